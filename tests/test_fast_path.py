"""The fast training path against plain, obviously correct NumPy.

The network's forward/backward passes reuse buffers, draw masks from raw
random bits and overwrite activations with their derivatives; the optimisers
update one flat vector with BLAS level-1 calls. Here each is checked against
a straightforward reference: the textbook backward pass written with fresh
arrays (same masks, read from the Dropout objects after the forward pass),
and scikit-learn's own SGD and Adam optimisers. A last group checks that a
training step allocates no large temporary array.
"""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from _penalized import penalized_backward, penalized_loss
from sklearn.neural_network._stochastic_optimizers import (
    AdamOptimizer,
    SGDOptimizer,
)

from skdrop._activations import SELU_ALPHA, SELU_SCALE
from skdrop._network import Network
from skdrop._noise import MASK_CHUNK, NOISE, draw_keep_mask, mask_bits
from skdrop._optimizers import MOMENT_SCALE_FLOOR, SGD, UPDATE_BLOCK, Adam, L2Penalty

ACTIVATIONS = ["identity", "logistic", "tanh", "relu", "selu"]
DROPOUT_TYPES = list(NOISE)
DTYPES = [np.float32, np.float64]
UNITS = [7, 9, 8, 4]
ALPHA = 0.01
TOLERANCE = {np.float32: 2e-4, np.float64: 1e-10}


# -- the reference: a textbook MLP, one fresh array per step ---------------
def _reference_activation(name, Z):
    return {
        "identity": lambda z: z,
        "logistic": lambda z: 1 / (1 + np.exp(-z)),
        "tanh": np.tanh,
        "relu": lambda z: np.maximum(z, 0),
        "selu": lambda z: SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(z)),
    }[name](Z)


def _reference_derivative(name, Z):
    """Derivative with respect to the pre-activation ``Z`` (not the output)."""
    if name == "identity":
        return np.ones_like(Z)
    if name == "logistic":
        s = 1 / (1 + np.exp(-Z))
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(Z) ** 2
    if name == "relu":
        return (Z > 0).astype(Z.dtype)
    return SELU_SCALE * np.where(Z > 0, 1.0, SELU_ALPHA * np.exp(Z))


def _softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def reference_gradients(X, Y, coefs, intercepts, activation, noise, alpha):
    """Loss and gradients of the mean log loss plus the L2 penalty.

    ``noise[i]`` is ``None`` or ``(mult, add)``, applied to the input of
    layer ``i`` as ``A * mult + add``. Everything is computed in float64.
    """
    n = X.shape[0]
    A = X.toarray() if sp.issparse(X) else np.array(X)
    inputs, pre_activations = [], []
    for i, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        if noise[i] is not None:
            mult, add = noise[i]
            A = A * mult + add
        inputs.append(A)
        Z = A @ W + b
        pre_activations.append(Z)
        A = _reference_activation(activation, Z) if i < len(coefs) - 1 else Z
    P = _softmax(A)
    loss = -np.mean(np.sum(Y * np.log(P), axis=1))
    loss += 0.5 * alpha * sum(np.sum(W * W) for W in coefs) / n
    delta = (P - Y) / n
    coef_grads, intercept_grads = [None] * len(coefs), [None] * len(coefs)
    for i in reversed(range(len(coefs))):
        coef_grads[i] = inputs[i].T @ delta + alpha * coefs[i] / n
        intercept_grads[i] = delta.sum(axis=0)
        if i > 0:
            delta = delta @ coefs[i].T
            if noise[i] is not None:
                delta = delta * noise[i][0]
            delta = delta * _reference_derivative(activation, pre_activations[i - 1])
    return loss, coef_grads, intercept_grads


# -- helpers ---------------------------------------------------------------
def _problem(dtype, sparse=False, n_rows=37, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, UNITS[0]))
    if sparse:
        X[rng.random(X.shape) < 0.6] = 0
        X = sp.csr_matrix(X)
    Y = np.eye(UNITS[-1])[rng.integers(UNITS[-1], size=n_rows)]
    return X.astype(dtype), Y.astype(dtype)


def _network(activation, dtype, rates, kind):
    network = Network(UNITS, activation, "softmax", dtype)
    network.initialize(np.random.default_rng(1))
    network.set_dropout(rates, kind)
    return network


def _noise_of_last_forward(network, n_rows):
    """The masks the last forward pass used, copied in float64."""
    noise = []
    for dropout in network.dropouts:
        if dropout is None:
            noise.append(None)
            continue
        # apply() of ones and zeros reads the factors through the public API.
        ones = np.ones((n_rows, dropout.width), dtype=dropout.dtype)
        add = dropout.apply(np.zeros_like(ones), np.empty_like(ones))
        mult = dropout.apply(ones, np.empty_like(ones)) - add
        noise.append((mult.astype(np.float64), add.astype(np.float64)))
    return noise


def _check_against_reference(network, X, Y, activation):
    n_rows = X.shape[0]
    dtype = network.dtype.type
    network.forward(X, np.random.default_rng(2))
    noise = _noise_of_last_forward(network, n_rows)
    weight_sum = penalized_backward(network, Y, None, ALPHA, dropout_on=True)
    loss = penalized_loss(network, "log_loss", Y, None, ALPHA, weight_sum)

    as64 = [p.astype(np.float64) for p in network.coefs + network.intercepts]
    coefs, intercepts = as64[: len(network.coefs)], as64[len(network.coefs) :]
    X64 = X.astype(np.float64)
    expected = reference_gradients(
        X64, Y.astype(np.float64), coefs, intercepts, activation, noise, ALPHA
    )
    ref_loss, ref_coef_grads, ref_intercept_grads = expected

    assert network.grad.dtype == dtype
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(loss, ref_loss, rtol=tol)
    for got, want in zip(
        network.coef_grads + network.intercept_grads,
        ref_coef_grads + ref_intercept_grads,
        strict=True,
    ):
        scale = np.abs(want).max()
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


# -- forward and backward ------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", DROPOUT_TYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_reference_with_dropout(activation, kind, dtype):
    X, Y = _problem(dtype)
    network = _network(activation, dtype, [0.2, 0.3, 0.4], kind)
    _check_against_reference(network, X, Y, activation)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_reference_without_dropout(activation, dtype):
    X, Y = _problem(dtype)
    network = _network(activation, dtype, [0.0, 0.0, 0.0], "bernoulli")
    _check_against_reference(network, X, Y, activation)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", DROPOUT_TYPES)
def test_gradients_match_reference_with_sparse_input(kind, dtype):
    X, Y = _problem(dtype, sparse=True)
    network = _network("relu", dtype, [0.25, 0.5, 0.5], kind)
    _check_against_reference(network, X, Y, "relu")


@pytest.mark.parametrize("kind", DROPOUT_TYPES)
def test_float32_stays_float32(kind):
    X, Y = _problem(np.float32)
    network = _network("selu", np.float32, [0.2, 0.3, 0.4], kind)
    output = network.forward(X, np.random.default_rng(0))
    assert output.dtype == np.float32
    for dropout in network.dropouts:
        assert dropout.dtype == np.float32
    penalized_backward(network, Y, None, ALPHA, dropout_on=True)
    assert network.grad.dtype == np.float32


def test_masks_are_redrawn_every_batch():
    X, _ = _problem(np.float64)
    network = _network("relu", np.float64, [0.0, 0.5, 0.5], "bernoulli")
    rng = np.random.default_rng(0)
    network.forward(X, rng)
    ones = np.ones((X.shape[0], UNITS[1]))
    first = network.dropouts[1].apply(ones, np.empty_like(ones))
    network.forward(X, rng)
    second = network.dropouts[1].apply(ones, np.empty_like(ones))
    assert not np.array_equal(first, second)


def _keep_from_one_draw(seed, threshold, n):
    """The keep mask read from one draw of raw words, 16, 8 or 1 bit(s) each."""
    words = np.random.default_rng(seed).bit_generator.random_raw(n)
    if threshold == 32768:
        bits = np.unpackbits(words.view(np.uint8), bitorder="little")
        return bits[:n] == 1
    if threshold % 256 == 0:
        return words.view(np.uint8)[:n] >= threshold // 256
    return words.view(np.uint16)[:n] >= threshold


@pytest.mark.parametrize("threshold", [20000, 256 * 200, 32768])
@pytest.mark.parametrize("n", [1, 5, MASK_CHUNK - 1, MASK_CHUNK + 6, 3 * MASK_CHUNK])
def test_chunked_keep_mask_equals_one_draw_of_raw_bits(n, threshold):
    keep = np.empty(n, dtype=np.float32)
    draw_keep_mask(np.random.default_rng(3), threshold, keep)
    expected = _keep_from_one_draw(3, threshold, n)
    np.testing.assert_array_equal(keep, expected.astype(np.float32))


@pytest.mark.parametrize(
    ("threshold", "bits"), [(32768, 1), (256, 8), (65280, 8), (20000, 16), (1, 16)]
)
def test_mask_takes_the_fewest_random_bits_that_realise_the_rate(threshold, bits):
    assert mask_bits(threshold) == bits
    # The same number of bits realises the rate exactly.
    assert threshold * 2**bits % 65536 == 0


# -- optimisers against scikit-learn's formulas ----------------------------------
# Weight matrices first, then bias vectors, as in the network's flat vector.
# The large layout spans several update blocks, the last one partial, with
# the end of the weights (where the L2 penalty stops) inside a block.
LAYOUTS = {
    "one block": [(6, 5), (5, 3), (5,), (3,)],
    "several blocks": [(300, 250), (250, 3), (250,), (3,)],
}


def _parameters_and_gradients(dtype, shapes, n_steps=4):
    """A flat parameter vector, its per-array split, and a few gradients."""
    rng = np.random.default_rng(5)
    sizes = [int(np.prod(s)) for s in shapes]
    flat = rng.standard_normal(sum(sizes)).astype(dtype)
    grads = [rng.standard_normal(flat.size).astype(dtype) for _ in range(n_steps)]
    return flat, grads, shapes, sizes


def _split(flat, shapes, sizes):
    pieces = np.split(flat.astype(np.float64), np.cumsum(sizes)[:-1])
    return [p.reshape(s) for p, s in zip(pieces, shapes, strict=True)]


def _sklearn_trajectory(make_optimizer, flat, grads, shapes, sizes, l2_strength):
    """Parameters after scikit-learn's optimizer took a step per gradient,
    each weight matrix's gradient plus ``l2_strength`` times the matrix."""
    params = _split(flat, shapes, sizes)
    optimizer = make_optimizer(params)
    for grad in grads:
        grad = _split(grad, shapes, sizes)
        for g, p in zip(grad, params, strict=True):
            if p.ndim == 2:
                g += l2_strength * p
        optimizer.update_params(params, grad)
    return np.concatenate([p.ravel() for p in params])


def _n_weights(shapes, sizes):
    return sum(n for s, n in zip(shapes, sizes, strict=True) if len(s) == 2)


def _take_steps(optimizer, params, grads, l2_strength, n_weights):
    """A step per gradient with an L2 penalty of strength ``l2_strength``; each
    returns the penalty's value before it, ``l2_strength / 2 * ||W||^2``."""
    penalty = L2Penalty(1.0, n_weights)
    for grad in grads:
        weights = params[:n_weights].astype(np.float64)
        value = optimizer.step(params, grad.copy(), penalty, l2_strength)
        assert value == pytest.approx(
            0.5 * l2_strength * np.dot(weights, weights), rel=1e-5
        )


@pytest.mark.parametrize("l2_strength", [0.0, 0.1])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_sklearn(momentum, nesterov, dtype, layout, l2_strength):
    flat, grads, shapes, sizes = _parameters_and_gradients(dtype, LAYOUTS[layout])
    expected = _sklearn_trajectory(
        lambda p: SGDOptimizer(p, 0.05, momentum=momentum, nesterov=nesterov),
        flat,
        grads,
        shapes,
        sizes,
        l2_strength,
    )
    params = flat.copy()
    optimizer = SGD(params.size, dtype, 0.05, momentum=momentum, nesterov=nesterov)
    _take_steps(optimizer, params, grads, l2_strength, _n_weights(shapes, sizes))
    assert params.dtype == dtype
    np.testing.assert_allclose(params, expected, rtol=TOLERANCE[dtype], atol=1e-6)


@pytest.mark.parametrize("l2_strength", [0.0, 0.1])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_matches_sklearn(dtype, layout, l2_strength):
    flat, grads, shapes, sizes = _parameters_and_gradients(dtype, LAYOUTS[layout])
    expected = _sklearn_trajectory(
        lambda p: AdamOptimizer(p, 0.01, 0.8, 0.95, 1e-6),
        flat,
        grads,
        shapes,
        sizes,
        l2_strength,
    )
    params = flat.copy()
    optimizer = Adam(params.size, dtype, 0.01, 0.8, 0.95, 1e-6)
    _take_steps(optimizer, params, grads, l2_strength, _n_weights(shapes, sizes))
    assert params.dtype == dtype
    np.testing.assert_allclose(params, expected, rtol=TOLERANCE[dtype], atol=1e-6)


def _textbook_adam(params, grads, lr, beta_1, beta_2, epsilon):
    m = np.zeros_like(params)
    v = np.zeros_like(params)
    for t, g in enumerate(grads, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        step = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        params = params - step * m / (np.sqrt(v) + epsilon)
    return params


@pytest.mark.parametrize(("beta_1", "beta_2"), [(0.0, 0.999), (0.5, 0.9), (0.9, 0.2)])
def test_adam_with_scaled_moments_follows_the_textbook_over_many_rescalings(
    beta_1, beta_2
):
    """The stored moments are rescaled every few steps (each step for a zero
    beta); the trajectory is still Adam's."""
    rng = np.random.default_rng(7)
    params = rng.standard_normal(50)
    grads = [rng.standard_normal(50) * 10.0 ** rng.uniform(-3, 1) for _ in range(300)]
    expected = _textbook_adam(params, grads, 0.01, beta_1, beta_2, 1e-8)
    optimizer = Adam(params.size, np.float64, 0.01, beta_1, beta_2, 1e-8)
    ours = params.copy()
    for grad in grads:
        optimizer.step(ours, grad.copy())
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-12)
    # The stored moments stay within the rescaling bound of the true ones.
    assert optimizer.first_moment_scale >= MOMENT_SCALE_FLOOR
    assert optimizer.second_moment_scale >= MOMENT_SCALE_FLOOR


def test_several_block_layout_spans_several_blocks():
    """The large layout does exercise block boundaries and a partial block."""
    n = sum(int(np.prod(s)) for s in LAYOUTS["several blocks"])
    assert n > 2 * UPDATE_BLOCK
    assert n % UPDATE_BLOCK


# -- no large allocation per training step ----------------------------------------
def _peak_bytes_of(step):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        step()
        return tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("activation", "kind", "solver"),
    [
        ("relu", "bernoulli", "sgd"),
        ("relu", "bernoulli", "adam"),
        ("selu", "alpha", "sgd"),
        ("tanh", "gaussian", "adam"),
        ("logistic", "bernoulli", "sgd"),
    ],
)
def test_training_step_allocates_no_large_array(activation, kind, solver):
    width, n_rows, dtype = 1024, 256, np.float32
    network = Network([32, width, width, 10], activation, "softmax", dtype)
    network.initialize(np.random.default_rng(0))
    network.set_dropout([0.2, 0.5, 0.5], kind)
    optimizer = (SGD if solver == "sgd" else Adam)(network.params.size, dtype)
    data_rng = np.random.default_rng(1)
    X = data_rng.standard_normal((n_rows, 32)).astype(dtype)
    Y = np.eye(10, dtype=dtype)[data_rng.integers(10, size=n_rows)]
    mask_rng = np.random.default_rng(2)
    penalty = L2Penalty(1e-4, network.n_coef_params)

    def step():
        # As the estimators' training loop does it.
        _, weight_sum = network.train_step_gradient(X, Y, None, "log_loss", mask_rng)
        optimizer.step(
            network.params, network.grad, penalty, penalty.strength(weight_sum)
        )

    step()  # the first step allocates the reused buffers
    activation_bytes = n_rows * width * np.dtype(dtype).itemsize
    assert _peak_bytes_of(step) < activation_bytes / 8
