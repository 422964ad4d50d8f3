# Stan's side of bench/mcmc-models.ts: rstan NUTS, 4 chains run one after another (cores = 1),
# 1000 warmup + 1000 draws each, on the same data as tyche. Prints one JSON object per line:
# model, seed, sampler seconds (sum of get_elapsed_time over chains, warmup included: what
# CmdStan reports), rstan wall seconds, minimum bulk ESS over the parameters (posterior::ess_bulk),
# its median over the parameters, leapfrog steps (warmup included), divergences, draws that hit
# the maximum tree depth (10), and each parameter's posterior mean and sd (also the side of
# bench/data-heavy.ts: model diamonds).
# Usage: Rscript bench/stan/run-stan.R PEERS_DIR DATA_DIR [model ...] [--seeds N] [--from FIRST_SEED]
suppressMessages({ library(rstan); library(jsonlite); library(posterior) })
rstan_options(boost_lib = "/usr/include", auto_write = TRUE)
args <- commandArgs(trailingOnly = TRUE)
peers <- args[1]; datadir <- args[2]
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
rest <- args[-(1:2)]
seeds <- 1
if ("--seeds" %in% rest) { i <- which(rest == "--seeds"); seeds <- as.integer(rest[i + 1]); rest <- rest[-c(i, i + 1)] }
first <- 1
if ("--from" %in% rest) { i <- which(rest == "--from"); first <- as.integer(rest[i + 1]); rest <- rest[-c(i, i + 1)] }
data_of <- list(
  eight = function() { d <- fromJSON(file.path(peers, "eight_schools.json")); list(J = d$J, y = d$y, sigma = d$sigma) },
  linreg = function() { d <- fromJSON(file.path(peers, "linreg.json")); list(N = d$N, x = d$x, y = d$y) },
  logreg = function() { d <- fromJSON(file.path(peers, "logreg.json")); list(N = d$N, D = d$D, X = as.matrix(d$X), y = d$y) },
  earnings = function() { d <- fromJSON(file.path(datadir, "earnings.json")); list(N = d$N, earn = d$earn, height = d$height) },
  kidiq = function() { d <- fromJSON(file.path(datadir, "kidiq.json")); list(N = d$N, kid_score = d$kid_score, mom_iq = d$mom_iq) },
  nes = function() { d <- fromJSON(file.path(datadir, "nes2000.json")); d$year <- NULL; d },
  hier = function() { d <- fromJSON(file.path(here, "hier_reg.json")); list(N = d$N, J = d$J, K = d$K, x = as.matrix(d$x), g = d$g, y = d$y) },
  garch = function() { d <- fromJSON(file.path(datadir, "garch.json")); list(T = d$T, y = d$y, sigma1 = d$sigma1) },
  ark = function() { d <- fromJSON(file.path(datadir, "arK.json")); list(K = d$K, T = d$T, y = d$y) },
  diamonds = function() { d <- fromJSON(readLines(gzfile(file.path(datadir, "diamonds.json.gz")), warn = FALSE)); list(N = d$N, Y = d$Y, K = d$K, X = as.matrix(d$X)) }
)
file_of <- c(eight = "eight_schools_nc", linreg = "linreg", logreg = "logreg", earnings = "earn_height", kidiq = "kidscore_momiq", nes = "nes", diamonds = "diamonds", hier = "hier_reg", garch = "garch11", ark = "ark")
models <- if (length(rest) > 0) rest else names(file_of)
for (m in models) {
  sm <- stan_model(file.path(here, paste0(file_of[[m]], ".stan")))
  data <- data_of[[m]]()
  for (s in first - 1 + seq_len(seeds)) {
    t0 <- proc.time()[["elapsed"]]
    fit <- sampling(sm, data = data, chains = 4, cores = 1, iter = 2000, warmup = 1000, seed = s, refresh = 0)
    wall <- proc.time()[["elapsed"]] - t0
    el <- get_elapsed_time(fit)
    arr <- as.array(fit)
    pars <- setdiff(dimnames(arr)[[3]], c("lp__", grep("^theta\\[", dimnames(arr)[[3]], value = TRUE)))
    each <- sapply(pars, function(p) ess_bulk(arr[, , p]))
    ess <- min(each)
    sp <- get_sampler_params(fit, inc_warmup = TRUE)
    leap <- sum(sapply(sp, function(x) sum(x[, "n_leapfrog__"])))
    div <- sum(sapply(get_sampler_params(fit, inc_warmup = FALSE), function(x) sum(x[, "divergent__"])))
    depth <- sum(sapply(get_sampler_params(fit, inc_warmup = FALSE), function(x) sum(x[, "treedepth__"] >= 10)))
    cat(toJSON(list(model = m, seed = s, sampler_s = sum(el), wall_s = wall, ess = ess, ess_median = median(each), leapfrog = leap, divergences = div, treedepth_hits = depth,
                mean = as.list(sapply(pars, function(p) mean(arr[, , p]))), sd = as.list(sapply(pars, function(p) sd(arr[, , p])))), auto_unbox = TRUE), "\n")
  }
}
