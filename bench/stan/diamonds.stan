// posteriordb diamonds-diamonds (brms's Gaussian regression of log price on 24 centred
// predictors, N = 5000), in rstan 2.21's syntax; the same model as models/posteriordb/diamonds.ts.
data {
  int<lower=1> N;
  vector[N] Y;
  int<lower=1> K;
  matrix[N, K] X;  // first column: the intercept
}
transformed data {
  int Kc = K - 1;
  matrix[N, Kc] Xc;  // the predictors without the intercept column, each centred
  for (k in 2:K) Xc[, k - 1] = X[, k] - mean(X[, k]);
}
parameters {
  vector[Kc] b;
  real Intercept;
  real<lower=0> sigma;
}
model {
  target += normal_lpdf(b | 0, 1);
  target += student_t_lpdf(Intercept | 3, 8, 10);
  target += student_t_lpdf(sigma | 3, 0, 10) - student_t_lccdf(0 | 3, 0, 10);
  target += normal_id_glm_lpdf(Y | Xc, Intercept, b, sigma);
}
