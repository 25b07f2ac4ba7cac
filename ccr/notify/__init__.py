"""Side effects: email (outbox rows, MIME, transports, dispatcher) and push (Socket.IO emits)."""
