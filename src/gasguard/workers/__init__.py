"""Zone-owning workers and a stateless web tier: ``gasguard serve --role worker|web`` (issue 20).

leases (``lease``), one owned zone (``zone``), the lease loop (``worker``), the two roles' entry points
(``serve``). ``--role all``, the single process, never imports this package.
"""
