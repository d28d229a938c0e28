"""The SQL adapters: each implements a context's store protocol on ``unico.db``. They sit
above the protocols they implement and below the composition root that builds them."""
