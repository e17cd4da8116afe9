"""The contract between the shell and SDAManager (and the simulator).

This package is the only part of `smclient` the simulator imports:

- `sdamanager_pb2*.py`: the API (sdamanager.v1), generated from
  `proto/sdamanager/v1/sdamanager.proto` by `make proto` (never hand-edited);
- `address`: how an SDAManager address is written and read;
- `secret`: how the shared admin secret is read and sent.
"""

# Call metadata carrying the shared admin secret, when the server asks for one.
ADMIN_SECRET_METADATA = "x-sdamanager-admin-secret"
