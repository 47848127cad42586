"""The district (issue 11): reading a registry file (:mod:`.sheet`), importing it and the heads'
invite links (:mod:`.registry`), staff moving an appeal (:mod:`.reassign`), residents' rights
(:mod:`.privacy`). Their SQL is in :mod:`storage.district` and :mod:`storage.privacy`; their Telegram
side in :mod:`handlers.district`."""
