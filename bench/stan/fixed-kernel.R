# Stan's NUTS transition alone, for test/mcmc/nuts-stan-parity-session14.test.ts: adaptation off (unit metric, a
# fixed step size) on the 10-D Gaussians of gauss10.stan: 'iso' (sds 1, step size 0.8) and 'sds' (sds 0.5, 1, ..., 5,
# step size 0.4); init 0, 4 chains x (100 + 2000), seeds 1-20. One line of JSON per case and seed: mean leapfrog steps
# per transition, count of each tree depth, mean accept statistic; then per case the mean over seeds and its s.e.
# Usage: Rscript bench/stan/fixed-kernel.R
suppressMessages({ library(rstan); library(jsonlite) })
rstan_options(boost_lib = "/usr/include", auto_write = TRUE)
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
sm <- stan_model(file.path(here, "gauss10.stan"))
cases <- list(iso = list(s = rep(1, 10), eps = 0.8), sds = list(s = (1:10) / 2, eps = 0.4))
for (k in names(cases)) {
 means <- c(); shares <- NULL
 for (s in 1:20) {
  fit <- sampling(sm, data = list(s = cases[[k]]$s), chains = 4, cores = 1, iter = 2100, warmup = 100, seed = s, refresh = 0, init = 0,
                  control = list(adapt_engaged = FALSE, stepsize = cases[[k]]$eps, metric = "unit_e"))
  sps <- get_sampler_params(fit, inc_warmup = FALSE)
  lf <- unlist(lapply(sps, function(x) x[, "n_leapfrog__"]))
  dp <- unlist(lapply(sps, function(x) x[, "treedepth__"]))
  tab <- table(factor(dp, levels = 0:10))
  means <- c(means, mean(lf)); shares <- rbind(shares, as.numeric(tab) / length(dp))
  cat(toJSON(list(case = k, seed = s, mean_leapfrog = mean(lf), depth = as.list(tab),
                  accept = mean(unlist(lapply(sps, function(x) x[, "accept_stat__"])))), auto_unbox = TRUE), "\n")
 }
 cat(toJSON(list(case = k, summary = TRUE, mean_leapfrog = mean(means), se = sd(means) / sqrt(length(means)),
   depth_share = as.list(setNames(colMeans(shares), 0:10)), depth_share_se = as.list(setNames(apply(shares, 2, sd) / sqrt(nrow(shares)), 0:10))), auto_unbox = TRUE, digits = NA), "\n")
}
