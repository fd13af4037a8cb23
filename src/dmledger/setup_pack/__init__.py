"""The setup pack: one encrypted file that carries what a new teammate needs to join
(``pack.py``)."""
