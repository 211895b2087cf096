"""The ``anatomy-r1`` command line (:mod:`.cli`) and its sub-commands: ``train`` (:mod:`.train`), ``demo``,
``doctor``; the others dispatch to the modules that own their concern."""
