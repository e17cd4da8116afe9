"""The customer's side: `moreh-smi` and `moreh-switch-model`, the tools a customer
runs inside a VM against SDAManager, authenticated by the VM's token (never the
admin secret).

- `client`: the calls (one per VM-side RPC), returning the API's messages;
- `views`: the text of those messages (pure functions: tables, menus, lines);
- `console`: what both tools share (connection options, the token, prompts,
  errors and exit statuses, output that may go away);
- `smi`, `switch_model`: the two console scripts (argument parsing and the flow).
"""
