"""The security whitepaper's features for OCPP 1.6: events, certificates, extended triggers, logs, signed firmware."""
