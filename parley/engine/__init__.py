"""engine: the world in play (model, agents, table, graph, decision rules, outcome).

`RULES` is the version of how play unfolds from a seed and the moves made (the engine's rules and
the offline players' reasoning). It is written into every run's manifest; bump it whenever a saved
run may play differently, so `parley replay` can name the cause of a divergence.
1: up to 2026-12-01. 2: cores, reservation and aspiration, the ratify protocol, order-free offline play.
3: offers made once a deal or framework closed the round are logged as set aside (with the concession
that announced them, which no longer raises trust); offline actors weigh only those they deal with;
of equally trusted routes, the one through the actor whose id sorts first.
"""

RULES = "3"
