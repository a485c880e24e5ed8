"""Sans-I/O OCPP-J: typed messages, frame codec, CALLERROR mapping, call correlation."""
