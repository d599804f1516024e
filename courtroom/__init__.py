"""The hearing domain: roles, procedure, participants, store, ledger, configuration."""
