"""OCPP 2.0.1 on the kernel: its features, one module each, and ``table.py``, their ordered table."""
