"""Pin BLAS to one thread in these tests: the matrices are small, and a shared CI machine with oversubscribed
BLAS threads makes batched small matmuls an order of magnitude slower."""

import pytest


@pytest.fixture(autouse=True)
def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is in the test extra
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
