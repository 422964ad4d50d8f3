"""Independent reference values for test/diagnostics/diagnostics.test.ts.

Written with numpy (FFT) and scipy (rankdata, norm.ppf, beta.ppf), following the loop structure of
ArviZ's ESS (odd lags) rather than the TypeScript one, so that the two implementations of
Vehtari, Gelman, Simpson, Carpenter and Buerkner (2021) check each other. Run:

    python3 test/diagnostics/numpy_reference.py

and paste the printed numbers into the GOLDEN table of the test when the definitions change.
"""
import json, sys, numpy as np
from scipy import stats

def autocov(x):
    n = len(x); m = 1
    while m < 2*n: m *= 2
    y = x - x.mean()
    f = np.fft.fft(y, n=m)
    return np.fft.ifft(f*np.conj(f)).real[:n] / n

def ess_raw(ary):
    ary = np.asarray(ary, float); c, n = ary.shape
    acov = np.array([autocov(a) for a in ary])
    chain_mean = ary.mean(axis=1)
    mean_var = acov[:,0].mean()*n/(n-1)
    var_plus = mean_var*(n-1)/n
    if c > 1: var_plus += np.var(chain_mean, ddof=1)
    rho = np.zeros(n); even = 1.0; rho[0] = even
    odd = 1 - (mean_var - acov[:,1].mean())/var_plus; rho[1] = odd
    t = 1
    while t < n-3 and even+odd > 0:
        even = 1 - (mean_var - acov[:,t+1].mean())/var_plus
        odd = 1 - (mean_var - acov[:,t+2].mean())/var_plus
        if even+odd >= 0:
            rho[t+1] = even; rho[t+2] = odd
        t += 2
    max_t = t-2
    if even > 0: rho[max_t+1] = even
    t = 1
    while t <= max_t-2:
        if rho[t+1]+rho[t+2] > rho[t-1]+rho[t]:
            rho[t+1] = (rho[t-1]+rho[t])/2; rho[t+2] = rho[t+1]
        t += 2
    s = c*n
    tau = -1 + 2*rho[:max_t+1].sum() + rho[max_t+1:max_t+2].sum()
    tau = max(tau, 1/np.log10(s))
    return s/tau

def split(a):
    h = a.shape[1]//2
    return np.concatenate([a[:, :h], a[:, a.shape[1]-h:]])

def z(a):
    r = stats.rankdata(a, method='average').reshape(a.shape)
    return stats.norm.ppf((r-0.375)/(a.size+0.25))

def rhat_raw(a):
    n = a.shape[1]
    B = n*np.var(a.mean(axis=1), ddof=1); W = np.mean(np.var(a, axis=1, ddof=1))
    return np.sqrt(((n-1)/n*W + B/n)/W)

def q7(a, p): return np.quantile(a, p)

def summary(a):
    a = np.asarray(a, float)
    ess_basic = ess_raw(split(a))
    bulk = ess_raw(z(split(a)))
    tails = [ess_raw(split((a <= q7(a, p)).astype(float))) for p in (0.05, 0.95)]
    rb = rhat_raw(z(split(a)))
    rt = rhat_raw(z(split(np.abs(a - np.median(a)))))
    sd = a.std(ddof=1)
    c2 = (a - a.mean())**2
    mcse_sd = np.sqrt(((c2**2).mean() - c2.mean()**2)/ess_raw(split(c2))/c2.mean()/4)
    def mq(p):
        e = ess_raw(split((a <= q7(a, p)).astype(float)))
        a1, a2 = stats.beta.ppf([0.15865525393145707, 0.8413447460685429], e*p+1, e*(1-p)+1)
        s = np.sort(a.ravel()); S = s.size
        return (s[min(int(np.ceil(a2*S)), S)-1] - s[max(int(np.floor(a1*S)), 1)-1])/2
    e = a
    ebfmi = [float(np.sum(np.diff(ch)**2)/np.sum((ch-ch.mean())**2)) for ch in a]
    return dict(essBasic=ess_basic, essBasicNoSplit=ess_raw(a), essBulk=bulk, essTail=min(tails), rhatBulk=rb, rhatTail=rt,
                splitRhat=rhat_raw(split(a)), rhat=max(rb, rt), mcseMean=sd/np.sqrt(ess_basic), mcseSd=mcse_sd,
                mcseQ05=mq(0.05), mcseQ50=mq(0.5), ebfmi=ebfmi, acf=list((autocov(a[0])/autocov(a[0])[0])[:5]))

def synth(chains, n):
    # deterministic, autocorrelated, skewed; same formula in the TS test
    out = np.zeros((chains, n))
    for c in range(chains):
        v = 0.0
        for i in range(n):
            v = 0.6*v + np.sin(1.7*i + 0.9*c) + 0.5*np.cos(0.37*i*i + c)
            out[c, i] = v + 0.3*v*v*(1 if c % 2 == 0 else 0.5) + 0.2*c
    return out

res = {}
res['synth_4x101'] = summary(synth(4, 101))
res['synth_3x64'] = summary(synth(3, 64))
d = json.load(open('/work/shared/posteriordb/eight_schools-eight_schools_noncentered/reference_draws.json'))
for k in ('tau', 'theta[1]'):
    res['eight_' + k] = summary(np.array([ch[k] for ch in d]))
json.dump(res, sys.stdout, indent=1, default=float)
