"""Docstring sections the two estimators share, written once.

An estimator's class docstring holds what is its own (the summary, its own
parameters and attributes, the examples) and, where a shared block goes, a
line holding only that block's marker: ``MLP_PARAMETERS``,
``DROPOUT_PARAMETERS``, ``SHARED_ATTRIBUTES`` or ``SHARED_NOTES``; a
method's docstring documents its input with ``X_PARAMETER``.
:func:`fill_shared_sections` puts each block in place, indented as its
marker, so that numpydoc and ``help()`` see one ordinary docstring;
:func:`with_shared_sections` does so for a class and its methods, and
:func:`fill_markers` with any other blocks (those of
:mod:`skdrop.uncertainty`).
Parameters are split into two blocks because numpydoc lists them in the
order of the signature, and each estimator has its own entries in between
(the regressor's ``loss`` first, each one's ``dropout_rate`` default).
"""

import inspect
from textwrap import dedent, indent

from ._class_weight import CLASS_WEIGHT_PARAMETER
from ._core.noise import document_dropout_types

# scikit-learn's parameters, from hidden_layer_sizes to max_fun.
MLP_PARAMETERS = dedent(
    """\
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of units in the ith hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu', 'selu'}, \
default='relu'
        Activation function of the hidden layers. ``'selu'`` (with LeCun
        initialisation) is the activation that alpha dropout is made for.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        The weight optimiser. ``'lbfgs'`` needs a deterministic objective
        and is only allowed when every dropout rate is 0.
    alpha : float, default=0.0001
        Strength of the L2 penalty, divided by the sample size as in
        scikit-learn.
    batch_size : int or 'auto', default='auto'
        Mini-batch size of the stochastic solvers; ``'auto'`` means
        ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Learning-rate schedule of ``solver='sgd'``.
    learning_rate_init : float, default=0.001
        Initial learning rate of ``'sgd'`` and ``'adam'``.
    power_t : float, default=0.5
        Exponent of the ``'invscaling'`` schedule.
    max_iter : int or 'auto', default='auto'
        Maximum number of epochs (stochastic solvers) or iterations
        (``'lbfgs'``). ``'auto'`` is scikit-learn's 200 when no layer has
        dropout, and for ``'lbfgs'``; under dropout it allows at least 20,000
        optimiser steps (``max(200, ceil(20000 / steps_per_epoch))`` epochs),
        because a small data set makes few steps per epoch (two for 300
        rows) and noisy gradients need many. The stopping rule (see
        ``tol``) usually ends the fit earlier.
    shuffle : bool, default=True
        Whether to shuffle the samples at every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the single generator that drives weight initialisation, the
        split of held-out rows, shuffling and the dropout masks. An int
        gives the same model bit for bit.
    tol : float, default=1e-4
        Improvement below which an epoch counts as no improvement, of the
        quantity the stopping rule reads: the validation score when rows are
        held out (``early_stopping=True`` or learned rates), else the
        training loss. Under dropout that loss is the one of the whole
        network (dropout off) on every fourth training row (all rows below
        256, at most 2,000 rows spread over the data), recorded in
        ``dropout_free_loss_curve_``: the loss of the training steps carries
        the dropout noise.
    verbose : bool, default=False
        Whether to print the loss after every epoch, as scikit-learn does.
    warm_start : bool, default=False
        Whether ``fit`` starts from the previous solution.
    momentum : float, default=0.9
        Momentum of ``solver='sgd'``.
    nesterovs_momentum : bool, default=True
        Whether ``'sgd'`` uses Nesterov's momentum.
    early_stopping : bool, default=False
        Whether to stop when the :meth:`score` of the whole network (no
        dropout) on a held-out ``validation_fraction`` of the data stops
        improving. The split is stratified for single-output classification.
    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping and for
        learned dropout rates.
    beta_1 : float, default=0.9
        Decay rate of Adam's first-moment estimate.
    beta_2 : float, default=0.999
        Decay rate of Adam's second-moment estimate.
    epsilon : float, default=1e-8
        Adam's numerical-stability constant.
    n_iter_no_change : int, default=10
        Number of epochs without improvement by ``tol`` before stopping.
        Under dropout the patience is at least as many epochs as make 500
        optimiser steps and, when rows are held out, at least half the
        epochs run so far.
    max_fun : int, default=15000
        Maximum number of loss evaluations of ``'lbfgs'``."""
)

# The dropout parameters after dropout_rate, whose default differs.
DROPOUT_PARAMETERS = dedent(
    """\
    input_dropout_rate : float or 'auto', default=0.0
        Probability of dropping each input feature at every training step;
        ``'auto'`` learns it as ``dropout_rate='auto'`` learns the hidden
        layers' rates (``input_dropout_rate_``).
    dropout_type : {DROPOUT_TYPE_NAMES}, default='bernoulli'
        Kind of dropout noise:

        DROPOUT_TYPE_LIST
    max_norm : float or None, default=None
        If set, after every update each hidden unit's incoming weight vector
        is rescaled to an L2 norm of at most ``max_norm``. Only with
        ``'sgd'`` and ``'adam'``: L-BFGS takes no such steps.
    dropout_group_size : int, 'batch' or None, default=None
        How the rows of a training mini-batch share dropout masks. ``None``
        draws a mask for every row (standard dropout). An int makes
        consecutive rows share one mask per group of that many rows, and
        ``'batch'`` one mask per mini-batch: the training step then computes
        with the weights of the kept units only, so dropout makes training
        faster instead of costing time (about 0.45x scikit-learn's epoch
        time with groups of 128 and rate 0.5 on two wide hidden layers).
        Groups need ``dropout_type='bernoulli'`` and fixed rates. The L2
        penalty, momentum, Adam's moments and ``max_norm`` still act on every
        weight, and prediction with dropout (``predict_samples``,
        ``return_std``) keeps one mask per row. Ignored when no layer has
        dropout. See the user guide's section on grouped masks for when to
        use which."""
)

# The fitted attributes whose meaning is the same in both estimators.
SHARED_ATTRIBUTES = dedent(
    """\
    loss_ : float
        Training loss of the last epoch (with dropout noise, so it is larger
        and noisier than the loss of the whole network).
    best_loss_ : float or None
        Minimum of the loss the stopping rule reads: of ``loss_curve_``
        when no layer has dropout, of ``dropout_free_loss_curve_`` when one
        has; ``None`` when rows are held out.
    loss_curve_ : list of float
        Training loss after every epoch.
    dropout_free_loss_curve_ : list of float or None
        Loss of the whole network with dropout off after every epoch: on
        every fourth training row, at most 2,000 (plus the L2 term of a
        batch), or on the
        held-out rows when there are some (without the L2 term). ``None``
        when no layer has dropout: ``loss_curve_`` is then that loss.
    validation_scores_ : list of float or None
        :meth:`score` of the whole network on the held-out rows after every
        epoch, when rows are held out (``early_stopping=True`` or learned
        rates); otherwise ``None``.
    best_validation_score_ : float or None
        Best of ``validation_scores_``; ``None`` when no rows are held out.
    t_ : int
        Number of training samples seen.
    coefs_ : list of ndarray
        Weight matrices; ``coefs_[i]`` maps layer i to layer i + 1.
    intercepts_ : list of ndarray
        Bias vectors; ``intercepts_[i]`` belongs to layer i + 1.
    dropout_rates_ : ndarray of shape (n_layers - 2,)
        Dropout rate of each hidden layer in the last fit: learned for
        ``'auto'``, otherwise the given rate (as realised, to a resolution
        of 1/65536).
    input_dropout_rate_ : float
        The same for the input layer.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during fit, when they are all strings.
    n_iter_ : int
        Number of epochs (or L-BFGS iterations) run.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units."""
)

# The input of fit, partial_fit and the prediction methods.
X_PARAMETER = dedent(
    """\
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The input data."""
)

SHARED_NOTES = dedent(
    """\
    **Learned dropout rates.** ``dropout_rate='auto'`` (and
    ``input_dropout_rate='auto'``) learns one rate per layer with the
    weights (Concrete dropout, Gal, Hron & Kendall 2017): training draws a
    relaxed Bernoulli mask (temperature 0.1), which is differentiable in the
    rate, and adds the paper's regulariser with weights derived from the
    number of training rows ``N`` (length scale 1e-4: a weight term
    ``1e-8 / N`` and a rate term ``2 / N`` times the layer's width). A fit
    with learned rates holds out ``validation_fraction`` of the rows (when
    that is at least 10 rows), as ``early_stopping=True`` does: the stopping
    rule, the regulariser's unit (the held-out mean squared residual, for
    the squared error) and the regressor's ``noise_variance_`` read them.
    Learned rates need ``dropout_type='bernoulli'`` and
    ``dropout_group_size=None``; ``solver='lbfgs'`` refuses them.

    A failed or interrupted call never leaves a half-updated model:

    * ``KeyboardInterrupt`` while ``'sgd'`` or ``'adam'`` trains stops
      training with the warning "Training interrupted by user."; the
      estimator keeps the weights reached so far, is usable, and ``n_iter_``
      counts the epochs completed in that call (``t_`` the samples of those
      epochs). With ``'lbfgs'`` the interrupt propagates and the estimator is
      restored to its state before the call.
    * If the loss, the weights or the optimizer's state become infinite or
      NaN, training stops with a ``ValueError`` naming the likelier cause
      (``learning_rate_init``; data with values above 1e6, which need
      scaling; or an ``alpha`` above 1e3), and the estimator is
      restored to its state before the call: unfitted after a first ``fit``,
      the previous weights and optimizer state after ``warm_start`` or
      ``partial_fit``. The same holds for any other exception raised during
      ``fit`` or ``partial_fit``, such as invalid data.
    * Prediction raises ``ValueError`` rather than return an output that
      overflowed to infinity or NaN.
    * Negative sample weights are refused; mini-batches whose weights are all
      zero are skipped.
    * A pickle records the skdrop version; unpickling with another version
      warns with ``InconsistentVersionWarning``, as scikit-learn does.
    * A loaded model (pickle, joblib, skops) is checked before use: a
      missing attribute, inconsistent shapes, unknown names or an invalid
      optimizer state raise ``ValueError`` naming the attribute.
    * Warm starts and ``partial_fit`` follow changes of ``early_stopping``
      and ``solver`` made with ``set_params`` between calls; a changed loss
      (or a multilabel target after a single-label one) is refused with an
      error that says to refit with ``warm_start=False``."""
)

SECTIONS = {
    "MLP_PARAMETERS": MLP_PARAMETERS,
    "DROPOUT_PARAMETERS": DROPOUT_PARAMETERS,
    "SHARED_ATTRIBUTES": SHARED_ATTRIBUTES,
    "SHARED_NOTES": SHARED_NOTES,
    "X_PARAMETER": X_PARAMETER,
    # The classifier's own entry, written beside the code it documents.
    "CLASS_WEIGHT_PARAMETER": CLASS_WEIGHT_PARAMETER,
}


def fill_markers(docstring, sections):
    """``docstring`` with every marker line replaced by its block.

    Parameters
    ----------
    docstring : str
        A docstring in which a line holding only a key of ``sections``
        (and indentation) stands for that block.
    sections : dict of str to str
        Marker -> block, the block unindented.

    Returns
    -------
    docstring : str
        The docstring with the blocks indented as their markers.
    """
    lines = []
    for line in docstring.splitlines():
        marker = line.strip()
        if marker in sections:
            prefix = line[: len(line) - len(line.lstrip())]
            lines.append(indent(sections[marker], prefix))
        else:
            lines.append(line)
    return "\n".join(lines)


def fill_shared_sections(docstring):
    """An estimator's docstring with the blocks of ``SECTIONS`` filled in by
    :func:`fill_markers`, and the ``dropout_type`` entry from the noise
    registry."""
    return document_dropout_types(fill_markers(docstring, SECTIONS))


def with_shared_sections(cls):
    """Class decorator: fill the markers of ``cls``'s docstring and of the
    docstrings of the methods it defines (see :func:`fill_shared_sections`)."""
    cls.__doc__ = fill_shared_sections(cls.__doc__)
    for member in vars(cls).values():
        # ``available_if`` keeps the method as ``fn`` and hands out its
        # docstring; the descriptor holds a copy of it as well.
        function = getattr(member, "fn", member)
        if inspect.isfunction(function) and function.__doc__:
            function.__doc__ = member.__doc__ = fill_shared_sections(function.__doc__)
    return cls
