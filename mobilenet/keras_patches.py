"""Every place training reaches into Keras' internals, written for keras 3.15.x.

``tests/test_framework_patches.py`` checks that the installed Keras still has the shape the
patch relies on, and names what to check when an upgrade breaks it.

**``fit`` under several TensorFlow workers** (``MultiWorkerMirroredStrategy``,
``fit_under_several_workers``). Keras 3.15's ``TensorFlowTrainer.fit`` first calls the private
``_maybe_symbolic_build(iterator=...)``, which takes a batch from the distributed dataset and
averages it across workers (``strategy.reduce("MEAN", ...)``) only to learn its shapes; that
reduce fails on an (images, labels) pair ("Attempt to convert a value (PerReplica ...)").
Building the model, its compiled metrics and loss before ``fit`` does not help: the batch is
taken and reduced before ``_symbolic_build`` looks at what is built. So this model's
``_maybe_symbolic_build`` is given the shapes from one picture instead. Then Keras' mean of the
logged loss and accuracy across workers (``reduce_per_replica``: ``strategy.reduce("MEAN", v,
axis=0)``) fails on scalars; each step hands them over as 1-element vectors, whose mean over
axis 0 is that mean (``train_step``/``test_step`` are public, made to be overridden).
Searched before deciding: Keras 3.15's source (``keras/src/backend/tensorflow/trainer.py``,
``keras/src/trainers/trainer.py``), its docs on distributed training (``keras.distribution``
covers JAX only) and issue threads: keras-team/keras#20585 ("Does Keras 3 work with
``tf.distribute.MultiWorkerMirroredStrategy``?", open, the TensorFlow tutorial's example
fails the same way), tensorflow/tensorflow#72388.
"""

WRITTEN_FOR = "keras 3.15.x"


def fit_under_several_workers(model, images, labels):
    """Lets ``model.fit`` run when this process is one of several TensorFlow workers (see the
    module docstring); elsewhere leaves ``model`` as it is. ``images``, ``labels``: one example
    of the training data, for its shapes."""
    from mobilenet import distribute

    if not distribute.multi_worker() or distribute.backend() != "tensorflow":
        return
    from mobilenet.batches import make_dataset

    sample = make_dataset(images, labels, 1).__iter__().__next__()
    build = model._maybe_symbolic_build
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: build(data_batch=sample)
    for name in ("train_step", "test_step"):
        setattr(model, name, _logs_as_vectors(getattr(model, name)))


def _logs_as_vectors(step):
    import keras

    return lambda data: {k: keras.ops.reshape(v, (1,)) for k, v in step(data).items()}
