"""The receiver (Storage SCP): settings, contexts, the server, where objects go."""
