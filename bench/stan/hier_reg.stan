// models/hierarchical-regression.ts in rstan 2.21's syntax: varying intercepts for J groups
// (non-centred z), K shared slopes on uncentred predictors, a noise scale. The data are that
// file's hierarchicalData() (J = 100, 4 rows a group, K = 4, seed 17), written to
// hier_reg.json by bench/mcmc-models.ts; g is the 1-based group of each row.
data {
  int<lower=1> N;
  int<lower=1> J;
  int<lower=1> K;
  matrix[N, K] x;
  int<lower=1, upper=J> g[N];
  vector[N] y;
}
parameters {
  real mu;
  vector[K] beta;
  real<lower=0> tau;
  real<lower=0> sigma;
  vector[J] z;
}
model {
  mu ~ normal(0, 10);
  beta ~ normal(0, 5);
  tau ~ normal(0, 2);
  sigma ~ normal(0, 2);
  z ~ normal(0, 1);
  y ~ normal(mu + tau * z[g] + x * beta, sigma);
}
