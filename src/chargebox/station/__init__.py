"""The charge point's behaviour: one service per OCPP feature, wired together by ``Station``."""
