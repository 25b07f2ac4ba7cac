"""Side effects: email (outbox rows + dispatcher) and push (Socket.IO emits)."""
