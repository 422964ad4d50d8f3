// Stan program of bench/stan/fixed-kernel.R: a 10-D Gaussian with mean 0 and sds s (data)
data {
  vector<lower=0>[10] s;
}
parameters {
  vector[10] x;
}
model {
  x ~ normal(0, s);
}
