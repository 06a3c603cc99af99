"""In-place array helpers shared by the update rules, written to round like torch's kernels."""
from __future__ import annotations


def lerp_(a, b, w: float, t, xp) -> None:
    """a ← a + w·(b − a), in place (``t`` is scratch).

    torch's ``lerp_`` uses ``a + w(b−a)`` for |w| < 0.5 and ``b − (b−a)(1−w)`` otherwise
    (with ``1−w`` computed in the array's precision); we do the same, so that float32
    trajectories stay within rounding of torch's."""
    xp.subtract(b, a, out=t)
    if abs(w) < 0.5:
        t *= w
        a += t
    else:
        one = a.dtype.type(1)
        t *= one - a.dtype.type(w)
        xp.subtract(b, t, out=a)


def add_scaled_(a, b, alpha: float, t, xp) -> None:
    """a ← a + alpha·b (torch's ``a.add_(b, alpha=alpha)``), ``t`` scratch."""
    xp.multiply(b, alpha, out=t)
    a += t


def ema_sq_(v, g, beta: float, t, xp) -> None:
    """v ← β·v + (1−β)·g² (torch's ``v.mul_(β).addcmul_(g, g, value=1−β)``)."""
    v *= beta
    xp.multiply(g, 1 - beta, out=t)
    t *= g
    v += t
