"""One module per paper, each with the same parts.

:mod:`~cxr_keras.reproductions.kora_venu`, :mod:`~cxr_keras.reproductions.salehinejad`,
:mod:`~cxr_keras.reproductions.ng_gubbi` and :mod:`~cxr_keras.reproductions.davoodi` each hold
the paper's table as a constant, ``load_dataset``, the paper's GAN build (through
:func:`~cxr_keras.reproductions.gan_setup.build_compiled_gan`), the protocol's steps as small
functions, ``claims()`` (the paper's statements checked against this run's numbers) and
``caveats()`` (measured reasons why the numbers may differ), both frames of numbers that
:mod:`~cxr_keras.reproductions.verdicts` turns into sentences. No paper module imports
another; what two papers share is in :mod:`~cxr_keras.reproductions.per_class_gan` (one GAN
per class), :mod:`cxr_keras.classifier_training` and :mod:`cxr_keras.data.selection`.
Importing this package alone loads no TensorFlow.
"""
