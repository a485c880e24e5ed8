"""The OCPP 1.6 features: one module per feature, on the kernel."""
