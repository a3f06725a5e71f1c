"""Channel adapters: turn Africa's Talking requests into engine inputs and replies into screens."""
