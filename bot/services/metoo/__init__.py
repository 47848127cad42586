"""Shared problems (issue 12): "Me too" and "a major issue goes to the residents".

* :mod:`.steps` — supporters hear of every step of a shared appeal (hooked into the outbox writer).
* :mod:`.sharing` — marking an appeal as shared while filing, its public title and post in the
  building chat, the Me too button, the threshold flag, supporters' ratings, joining while filing.
* :mod:`.residents` — "Put to the residents" on a major appeal: a linked proposal.
* :mod:`.decided` — the proposal's outcome written into the appeal's history (called on closing).
"""
