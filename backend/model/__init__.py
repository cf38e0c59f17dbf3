"""The late-interaction text <-> motion retrieval model (torch starts here).

Import from the modules themselves (``backend.model.retrieval.MotionTextRetrieval``,
``backend.model.scoring.maxsim``, ...); this package file imports nothing, so ``import backend.model.config``
stays free of torch.
"""
