# rstan's side of scripts/eight-schools-z.ts: eight schools (non-centred, bench/stan/eight_schools_nc.stan),
# 4 chains x (WARMUP + SAMPLES) per seed, cores = 1, one JSON line per seed with each parameter's posterior
# mean, bulk ESS (posterior::ess_bulk) and basic ESS of the draws (posterior::ess_mean), so that the same
# z against ../shared/peers/reference_stan.json can be computed for Stan's own short runs:
#   Rscript scripts/eight-schools-z-stan.R ../shared/peers 1 100 [WARMUP SAMPLES] > stan-rows.jsonl
#   npx tsx scripts/eight-schools-z.ts --stan stan-rows.jsonl
suppressMessages({ library(rstan); library(jsonlite); library(posterior) })
rstan_options(boost_lib = "/usr/include", auto_write = TRUE)
args <- commandArgs(trailingOnly = TRUE)
peers <- args[1]
from <- as.integer(args[2]); to <- as.integer(args[3])
warmup <- if (length(args) >= 4) as.integer(args[4]) else 1000L
samples <- if (length(args) >= 5) as.integer(args[5]) else 1000L
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
sm <- stan_model(file.path(here, "..", "bench", "stan", "eight_schools_nc.stan"))
d <- fromJSON(file.path(peers, "eight_schools.json"))
data <- list(J = d$J, y = d$y, sigma = d$sigma)
for (s in from:to) {
  fit <- sampling(sm, data = data, chains = 4, cores = 1, iter = warmup + samples, warmup = warmup, seed = s, refresh = 0)
  arr <- as.array(fit)
  pars <- setdiff(dimnames(arr)[[3]], "lp__")
  cat(toJSON(list(seed = s,
                  mean = as.list(sapply(pars, function(p) mean(arr[, , p]))),
                  ess_bulk = as.list(sapply(pars, function(p) ess_bulk(arr[, , p]))),
                  ess_basic = as.list(sapply(pars, function(p) ess_mean(arr[, , p])))), digits = NA, auto_unbox = TRUE), "\n")
}
