"""The charge point: a kernel (``kernel/``) and the features of an OCPP version (``v16/``), assembled by ``Station``."""
