# Stan's side of bench/nuts-ess-gradient.ts: rstan NUTS (4 chains, cores = 1, 1000 + 1000, diagonal metric),
# one line of JSON per seed with everything needed to compare effective draws per gradient: each parameter's draws
# (chains x draws, so the other side can apply its own ESS estimator), posterior::ess_bulk of each, the leapfrog
# steps of warmup and of sampling, each chain's adapted step size, mean accept statistic and tree depth.
# With --ess-of FILE it instead reads tyche's draws (lines {"seed":..,"draws":{"name":[[chain 1],[chain 2],..]}})
# and prints posterior::ess_bulk of each parameter, so both sides' draws meet both estimators.
# Usage: Rscript bench/stan/ess-draws.R PEERS_DIR MODEL --seeds N [--from FIRST]
#        Rscript bench/stan/ess-draws.R --ess-of FILE
suppressMessages({ library(jsonlite); library(posterior) })
args <- commandArgs(trailingOnly = TRUE)
if (args[1] == "--ess-of") {
  for (line in readLines(args[2])) {
    r <- fromJSON(line, simplifyVector = TRUE)
    ess <- lapply(r$draws, function(m) ess_bulk(t(m)))
    cat(toJSON(list(seed = r$seed, ess = ess), auto_unbox = TRUE, digits = NA), "\n")
  }
  quit(save = "no")
}
suppressMessages(library(rstan))
rstan_options(boost_lib = "/usr/include", auto_write = TRUE)
peers <- args[1]; m <- args[2]; rest <- args[-(1:2)]
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
seeds <- 10; first <- 1
if ("--seeds" %in% rest) seeds <- as.integer(rest[which(rest == "--seeds") + 1])
if ("--from" %in% rest) first <- as.integer(rest[which(rest == "--from") + 1])
data_of <- list(
  eight = function() { d <- fromJSON(file.path(peers, "eight_schools.json")); list(J = d$J, y = d$y, sigma = d$sigma) },
  linreg = function() { d <- fromJSON(file.path(peers, "linreg.json")); list(N = d$N, x = d$x, y = d$y) },
  logreg = function() { d <- fromJSON(file.path(peers, "logreg.json")); list(N = d$N, D = d$D, X = as.matrix(d$X), y = d$y) }
)
file_of <- c(eight = "eight_schools_nc", linreg = "linreg", logreg = "logreg")
sm <- stan_model(file.path(here, paste0(file_of[[m]], ".stan")))
data <- data_of[[m]]()
for (s in first - 1 + seq_len(seeds)) {
  fit <- sampling(sm, data = data, chains = 4, cores = 1, iter = 2000, warmup = 1000, seed = s, refresh = 0)
  arr <- as.array(fit)
  pars <- setdiff(dimnames(arr)[[3]], c("lp__", grep("^theta\\[", dimnames(arr)[[3]], value = TRUE)))
  spw <- get_sampler_params(fit, inc_warmup = TRUE)
  sps <- get_sampler_params(fit, inc_warmup = FALSE)
  lw <- sum(sapply(spw, function(x) sum(x[1:1000, "n_leapfrog__"])))
  ls <- sum(sapply(sps, function(x) sum(x[, "n_leapfrog__"])))
  draws <- lapply(setNames(pars, pars), function(p) t(arr[, , p]))
  cat(toJSON(list(model = m, seed = s,
    ess = lapply(setNames(pars, pars), function(p) ess_bulk(arr[, , p])),
    leapfrog_warmup = lw, leapfrog_sampling = ls,
    step = sapply(sps, function(x) x[1, "stepsize__"]),
    accept = sapply(sps, function(x) mean(x[, "accept_stat__"])),
    depth = sapply(sps, function(x) mean(x[, "treedepth__"])),
    divergences = sum(sapply(sps, function(x) sum(x[, "divergent__"]))),
    sampler_s = sum(get_elapsed_time(fit)),
    draws = draws), auto_unbox = TRUE, digits = NA), "\n")
}
