"""The rules of SDAManager, one module per entity, over one shared base; manager.py composes them."""
