"""Exact Hessian-vector products against PyTorch (float64), and the spectrum tools against
the full eigen-decomposition and against each other."""

import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe import functions as F
from deeprecipe.diagnostics import hessian as H
from tests.conftest import requires_torch, torch

RTOL = 1e-10


def _rel(a, b):
    a = np.concatenate([np.ravel(x) for x in a])
    b = np.concatenate([np.ravel(x) for x in b])
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def _torch_hvp(fn, arrays, vs):
    ps = tuple(torch.tensor(a) for a in arrays)
    tv = tuple(torch.tensor(v) for v in vs)
    return [t.numpy() for t in torch.autograd.functional.hvp(fn, ps, tv)[1]]


def _check(dr_loss, torch_loss, arrays, rng):
    params = [dr.Parameter(a.copy()) for a in arrays]
    vs = [rng.standard_normal(a.shape) for a in arrays]
    ours = H.hessian_vector_product(lambda: dr_loss(*params), params, vs, method="exact")
    ref = _torch_hvp(torch_loss, arrays, vs)
    assert _rel(ours, ref) <= RTOL


ACTS = {"relu": (F.relu, torch.relu if torch else None),
        "sigmoid": (F.sigmoid, torch.sigmoid if torch else None),
        "tanh": (F.tanh, torch.tanh if torch else None),
        "elu": (lambda x: F.elu(x, 0.7), (lambda x: torch.nn.functional.elu(x, 0.7)) if torch else None),
        "softplus": (F.softplus, torch.nn.functional.softplus if torch else None),
        "leaky": (lambda x: F.leaky_relu(x, 0.1),
                  (lambda x: torch.nn.functional.leaky_relu(x, 0.1)) if torch else None)}


@requires_torch
@pytest.mark.parametrize("act", sorted(ACTS))
@pytest.mark.parametrize("loss", ["ce", "ce_sum", "ce_prob", "mse", "bce"])
def test_mlp_hvp_matches_torch(act, loss, rng):
    tF = torch.nn.functional
    x = rng.standard_normal((7, 5))
    labels = rng.integers(0, 3, 7)
    probs = rng.dirichlet(np.ones(3), 7)
    target = rng.standard_normal((7, 3))
    arrays = [rng.standard_normal((6, 5)) * 0.7, rng.standard_normal(6) * 0.1,
              rng.standard_normal((3, 6)) * 0.7, rng.standard_normal(3) * 0.1]
    a, ta = ACTS[act]

    def ours(W1, b1, W2, b2):
        z = F.linear(a(F.linear(x, W1, b1)), W2, b2)
        return {"ce": lambda: F.softmax_cross_entropy(z, labels),
                "ce_sum": lambda: F.softmax_cross_entropy(z, labels, reduction="sum"),
                "ce_prob": lambda: F.softmax_cross_entropy(z, probs),
                "mse": lambda: F.mse_loss(z, target),
                "bce": lambda: F.binary_cross_entropy_with_logits(z, (target > 0).astype(float))}[loss]()

    def theirs(W1, b1, W2, b2):
        z = tF.linear(ta(tF.linear(torch.tensor(x), W1, b1)), W2, b2)
        return {"ce": lambda: tF.cross_entropy(z, torch.tensor(labels)),
                "ce_sum": lambda: tF.cross_entropy(z, torch.tensor(labels), reduction="sum"),
                "ce_prob": lambda: tF.cross_entropy(z, torch.tensor(probs)),
                "mse": lambda: tF.mse_loss(z, torch.tensor(target)),
                "bce": lambda: tF.binary_cross_entropy_with_logits(z, torch.tensor((target > 0).astype(float)))}[loss]()
    _check(ours, theirs, arrays, rng)


@requires_torch
@pytest.mark.parametrize("norm", ["bn_train", "bn_eval", "layer", "group", "instance", "none"])
def test_cnn_hvp_matches_torch(norm, rng):
    tF = torch.nn.functional
    x = rng.standard_normal((4, 2, 6, 6))
    labels = rng.integers(0, 3, 4)
    rm, rv = rng.standard_normal(4) * 0.1, rng.uniform(0.5, 2, 4)
    arrays = [rng.standard_normal((4, 2, 3, 3)) * 0.5, rng.standard_normal(4) * 0.1,
              rng.uniform(0.5, 1.5, 4), rng.standard_normal(4) * 0.1,
              rng.standard_normal((3, 4 * 3 * 3)) * 0.3, rng.standard_normal(3) * 0.1]

    def ours(W, b, g, beta, V, c):
        h = F.conv2d(x, W, b, padding=1)
        if norm.startswith("bn"):
            h = F.batch_norm(h, rm.copy(), rv.copy(), g, beta, training=norm == "bn_train")
        elif norm == "layer":
            h = F.layer_norm(h, (4, 6, 6))
        elif norm == "group":
            h = F.group_norm(h, 2, g, beta)
        elif norm == "instance":
            h = F.instance_norm(h, g, beta)
        else:
            h = h * g.reshape(1, 4, 1, 1) + beta.reshape(1, 4, 1, 1)
        h = F.max_pool2d(F.tanh(h), 2)
        h = F.avg_pool2d(h, 1)
        return F.softmax_cross_entropy(F.linear(h.reshape(4, -1), V, c), labels)

    def theirs(W, b, g, beta, V, c):
        h = tF.conv2d(torch.tensor(x), W, b, padding=1)
        if norm.startswith("bn"):
            h = tF.batch_norm(h, torch.tensor(rm), torch.tensor(rv), g, beta, training=norm == "bn_train")
        elif norm == "layer":
            h = tF.layer_norm(h, (4, 6, 6))
        elif norm == "group":
            h = tF.group_norm(h, 2, g, beta)
        elif norm == "instance":
            h = tF.instance_norm(h, weight=g, bias=beta)
        else:
            h = h * g.reshape(1, 4, 1, 1) + beta.reshape(1, 4, 1, 1)
        h = tF.max_pool2d(torch.tanh(h), 2)
        h = tF.avg_pool2d(h, 1)
        return tF.cross_entropy(tF.linear(h.reshape(4, -1), V, c), torch.tensor(labels))
    _check(ours, theirs, arrays, rng)


@requires_torch
def test_softmax_log_softmax_nll_div_match_torch(rng):
    """log_softmax + nll_loss, softmax, and division with broadcasting (weight-norm style)."""
    x = rng.standard_normal((6, 4))
    labels = rng.integers(0, 3, 6)
    arrays = [rng.standard_normal((3, 4)), rng.uniform(0.5, 2.0, (3, 1)), rng.standard_normal(3) * 0.1]

    def ours(V, g, b):
        W = V / F.sqrt((V * V).sum(dim=1, keepdims=True)) * g
        z = F.linear(x, W, b)
        return F.nll_loss(F.log_softmax(z, dim=1), labels) + (F.softmax(z, dim=1) * z).sum() * 0.1 + (z / g.T).mean()

    def theirs(V, g, b):
        W = V / torch.sqrt((V * V).sum(dim=1, keepdim=True)) * g
        z = torch.nn.functional.linear(torch.tensor(x), W, b)
        return (torch.nn.functional.nll_loss(torch.log_softmax(z, dim=1), torch.tensor(labels))
                + (torch.softmax(z, dim=1) * z).sum() * 0.1 + (z / g.T).mean())
    _check(ours, theirs, arrays, rng)


@requires_torch
def test_prelu_and_maxout_match_torch(rng):
    x = rng.standard_normal((5, 4))
    labels = rng.integers(0, 2, 5)
    arrays = [rng.standard_normal((6, 4)), np.array([0.2, -0.1, 0.3]), rng.standard_normal((2, 3))]

    def ours(W, a, V):
        h = F.maxout(F.linear(x, W), 2)                      # 6 → 3 units, pieces of 2
        return F.softmax_cross_entropy(F.linear(F.prelu(h, a), V), labels)

    def theirs(W, a, V):
        h = torch.nn.functional.linear(torch.tensor(x), W).reshape(5, 3, 2).max(dim=2).values
        return torch.nn.functional.cross_entropy(
            torch.nn.functional.linear(torch.nn.functional.prelu(h, a), V), torch.tensor(labels))
    _check(ours, theirs, arrays, rng)


@requires_torch
def test_elementwise_math_ops_match_torch(rng):
    """exp, log, sqrt, mul, matmul, sum, mean, sub, neg, concat, getitem, transpose."""
    A0 = rng.standard_normal((3, 4))
    arrays = [rng.standard_normal((4, 2)), rng.uniform(0.5, 2.0, (3, 2))]

    def ours(B, P):
        y = F.matmul(A0, B) * P - F.sqrt(P) + F.log(P) * F.exp(-B[:3] * 0.3)
        y = F.concat([y, -y[:, :1]], dim=1)
        return F.mean(y * y) + F.sum(y.T * 0.5)

    def theirs(B, P):
        y = torch.tensor(A0) @ B * P - torch.sqrt(P) + torch.log(P) * torch.exp(-B[:3] * 0.3)
        y = torch.cat([y, -y[:, :1]], dim=1)
        return (y * y).mean() + (y.T * 0.5).sum()
    _check(ours, theirs, arrays, rng)


def _small_net(rng, n=12):
    with dr.default_dtype(np.float64):
        model = dr.nn.Sequential(dr.nn.Linear(4, 5), dr.nn.Tanh(), dr.nn.Linear(5, 3))
    x, y = rng.standard_normal((n, 4)), rng.integers(0, 3, n)
    return model, (lambda: F.softmax_cross_entropy(model(x), y)), x, y


@requires_torch
def test_full_hessian_symmetric_and_matches_torch(rng):
    model, closure, x, y = _small_net(rng)
    Hm = H.full_hessian(closure, model)
    assert np.abs(Hm - Hm.T).max() <= 1e-12 * np.abs(Hm).max()
    arrays = [p.data.copy() for p in model.parameters()]
    shapes = [a.shape for a in arrays]

    def flat_loss(w):
        ps, k = [], 0
        for s in shapes:
            n = int(np.prod(s))
            ps.append(w[k:k + n].reshape(s))
            k += n
        h = torch.tanh(torch.tensor(x) @ ps[0].T + ps[1])
        return torch.nn.functional.cross_entropy(h @ ps[2].T + ps[3], torch.tensor(y))
    w0 = torch.tensor(np.concatenate([a.ravel() for a in arrays]))
    ref = torch.autograd.functional.hessian(flat_loss, w0).numpy()
    assert np.abs(Hm - ref).max() <= RTOL * np.abs(ref).max()


def test_spectrum_tools_agree_with_the_full_eigendecomposition(rng):
    model, closure, x, y = _small_net(rng)
    eig = H.hessian_eigen(closure, model)
    lam = eig.eigenvalues
    n = lam.size
    with H.HessianOperator(closure, model) as op:
        top = H.lanczos_eigen(op, k=3, which="top", iters=n, rng=0)
        bottom = H.lanczos_eigen(op, k=2, which="bottom", iters=n, rng=0)
        tr = H.hutchinson_trace(op, samples=400, rng=1)
        dens = H.spectral_density(op, iters=n, n_vectors=5, rng=2)
        dens_short = H.spectral_density(op, iters=8, n_vectors=5, rng=2)
        hutch_same = H.hutchinson_trace(op, samples=5, rng=2)
    np.testing.assert_allclose(top.eigenvalues, lam[::-1][:3], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(bottom.eigenvalues, lam[:2], rtol=1e-8, atol=1e-10)
    # a Ritz vector is an eigenvector: H q = λ q
    Hfull = H.full_hessian(closure, model)
    q = top.eigenvectors[:, 0]
    np.testing.assert_allclose(Hfull @ q, top.eigenvalues[0] * q, atol=1e-8 * abs(lam).max())
    assert abs(tr.trace - lam.sum()) <= 4 * tr.stderr
    # stochastic Lanczos quadrature: weights sum to 1; its first moment with the same
    # Rademacher probes equals Hutchinson's vᵀHv/n exactly (Gauss quadrature is exact there)
    np.testing.assert_allclose(dens.weights.sum(axis=1), 1.0, rtol=1e-12)
    assert dens_short.moment(1) == pytest.approx(hutch_same.trace / n, rel=1e-9)
    # same probes (same seed): 8-node quadrature already integrates λ² exactly
    assert dens_short.moment(2) == pytest.approx(dens.moment(2), rel=1e-8)
    # nodes carrying weight are eigenvalues of H (a Krylov space may miss repeated ones)
    live = dens.nodes[dens.weights > 1e-12]
    assert np.abs(live[:, None] - lam[None]).min(axis=1).max() <= 1e-8 * abs(lam).max()
    grid = np.linspace(lam.min() - 1, lam.max() + 1, 2001)
    phi = dens.evaluate(grid, sigma=0.05)
    assert np.trapezoid(phi, grid) == pytest.approx(1.0, rel=1e-3)


def test_hessian_calls_leave_parameters_and_grads_bit_identical(rng):
    model, closure, x, y = _small_net(rng)
    ps = list(model.parameters())
    for i, p in enumerate(ps):
        p.grad = rng.standard_normal(p.shape) if i % 2 == 0 else None
    data0 = [p.data.copy() for p in ps]
    grad0 = [None if p.grad is None else p.grad.copy() for p in ps]
    H.full_hessian(closure, model)
    H.lanczos_eigen(closure, model, k=2, rng=0)
    H.hutchinson_trace(closure, model, samples=3, rng=0)
    H.spectral_density(closure, model, iters=5, rng=0)
    H.sharpness(model, x, y, iters=5, rng=0)
    H.hessian_vector_product(closure, ps, [np.ones(p.shape) for p in ps], method="fd")
    for p, d, g in zip(ps, data0, grad0):
        assert p.data.tobytes() == d.tobytes()
        if g is None:
            assert p.grad is None
        else:
            assert p.grad.tobytes() == g.tobytes()


def test_batchnorm_buffers_restored_by_sharpness_in_train_mode(rng):
    with dr.default_dtype(np.float64):
        model = dr.nn.Sequential(dr.nn.Linear(3, 4), dr.nn.BatchNorm1d(4), dr.nn.ReLU(), dr.nn.Linear(4, 2))
    x, y = rng.standard_normal((10, 3)), rng.integers(0, 2, 10)
    bufs = [b.copy() for _, b in model.named_buffers()]
    lam = H.sharpness(model, x, y, iters=20, rng=0, train=True)
    assert np.isfinite(lam.eigenvalue) and model.training
    for (_, b), b0 in zip(model.named_buffers(), bufs):
        assert b.tobytes() == b0.tobytes()


def test_exact_and_finite_differences_agree_and_fallback_warns(rng):
    model, closure, x, y = _small_net(rng)
    ps = list(model.parameters())
    v = [rng.standard_normal(p.shape) for p in ps]
    exact = H.hessian_vector_product(closure, ps, v, method="exact")
    fd = H.hessian_vector_product(closure, ps, v, method="fd", eps=1e-4)
    assert _rel(fd, exact) <= 1e-6  # the stated error of the fallback in float64
    w = dr.Parameter(rng.standard_normal(4))
    xs = rng.standard_normal((5, 4))
    a = dr.Parameter(np.array([0.2]))

    def pow_loss():  # Pow has no exact rule: "auto" falls back, "exact" refuses
        return (F.prelu(dr.Tensor(xs) * w, a) ** 3).sum()
    with pytest.raises(H.NoRule, match="Pow"):
        H.HessianOperator(pow_loss, [w, a], method="exact")
    with pytest.warns(RuntimeWarning, match="Pow"):
        op = H.HessianOperator(pow_loss, [w, a])
    assert op.method == "fd"


def test_minimum_ratio_and_index_of_a_known_saddle():
    lam = np.array([-2.0, -1e-20, 0.0, 1e-17, 0.5, 3.0])
    assert H.minimum_ratio(lam) == pytest.approx(2 / 6)
    assert H.critical_point_index(lam) == 1
    w = dr.Parameter(np.array([0.3, -0.2, 0.1]))
    D = np.diag([2.0, -1.0, 0.5])
    eig = H.hessian_eigen(lambda: 0.5 * (w * (dr.Tensor(D) @ w)).sum(), [w])
    np.testing.assert_allclose(eig.eigenvalues, [-1.0, 0.5, 2.0], rtol=1e-14)
    assert H.minimum_ratio(eig.eigenvalues) == pytest.approx(2 / 3)


def test_bad_arguments(rng):
    model, closure, x, y = _small_net(rng)
    with pytest.raises(ValueError, match="method"):
        H.HessianOperator(closure, model, method="newton")
    with H.HessianOperator(closure, model) as op:
        with pytest.raises(ValueError, match="shape"):
            op.matvec_flat(np.ones(3))
        with pytest.raises(ValueError, match="which"):
            H.lanczos_eigen(op, which="middle")
    with pytest.raises(RuntimeError, match="closed"):
        op.matvec([np.zeros(p.shape) for p in model.parameters()])


def test_sharpness_monitor_records_without_changing_training(rng):
    from deeprecipe.train import fit
    x = rng.standard_normal((40, 4)).astype(np.float32)
    y = rng.integers(0, 3, 40)

    def train(callbacks):
        model = dr.nn.MLP([4, 6, 3], norm="batch", rng=0)
        hist = fit(model, (x, y), optimizer="sgd", lr=0.1, epochs=2, batch_size=10, seed=0, verbose=0,
                   callbacks=callbacks)
        return model, hist
    mon = H.SharpnessMonitor(x[:20], y[:20], every=3, iters=10)
    m1, hist = train([mon])
    m0, _ = train([])
    for p0, p1 in zip(m0.parameters(), m1.parameters()):
        assert p0.data.tobytes() == p1.data.tobytes()  # measuring does not perturb training
    assert [s for s, _ in mon.records] == [0, 3, 6]
    assert hist.step_index["sharpness"] == [0, 3, 6]
    np.testing.assert_allclose(hist.steps["sharpness"], [v for _, v in mon.records])
    # the last record (after step 6 of 0..7) is close to the final model's sharpness on the probe batch
    ref = H.sharpness(m1, x[:20], y[:20], iters=200, tol=1e-8, rng=0).eigenvalue
    assert mon.last == pytest.approx(ref, rel=0.2)
    with pytest.raises(ValueError, match="every"):
        H.SharpnessMonitor(x, y, every=0)


@requires_torch
def test_many_products_on_one_cnn_graph_stay_exact(rng):
    """Products share the recorded graph: a conv op's saved buffers must survive the copies
    the rules run (a copy that gave them back to the pool corrupted later products)."""
    x = rng.standard_normal((3, 2, 5, 5))
    lab = rng.integers(0, 3, 3)
    arrays = [rng.standard_normal((3, 2, 3, 3)) * 0.5, rng.standard_normal((4, 3, 3, 3)) * 0.5,
              rng.standard_normal((3, 4 * 25)) * 0.2]
    ps = [dr.Parameter(a.copy()) for a in arrays]

    def ours():
        h = F.tanh(F.conv2d(x, ps[0], padding=1))
        h = F.max_pool2d(F.relu(F.conv2d(h, ps[1], padding=1)), 1)
        return F.softmax_cross_entropy(F.linear(h.reshape(3, -1), ps[2]), lab)

    def theirs(W1, W2, V):
        h = torch.tanh(torch.nn.functional.conv2d(torch.tensor(x), W1, padding=1))
        h = torch.relu(torch.nn.functional.conv2d(h, W2, padding=1))
        return torch.nn.functional.cross_entropy(torch.nn.functional.linear(h.reshape(3, -1), V), torch.tensor(lab))
    with H.HessianOperator(ours, ps, method="exact") as op:
        vs = [[rng.standard_normal(a.shape) for a in arrays] for _ in range(4)]
        first = [op.matvec(v) for v in vs]
        again = [op.matvec(v) for v in vs]
    for v, a, b in zip(vs, first, again):
        assert all(np.array_equal(p, q) for p, q in zip(a, b))
        assert _rel(a, _torch_hvp(theirs, arrays, v)) <= RTOL
