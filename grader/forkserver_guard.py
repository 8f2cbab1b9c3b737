"""Imported only by multiprocessing's fork server (as a preload): it dies with `theater grade`.

The fork server should exit when its parent does, but it keeps the resource tracker's pipe open
and was seen outliving a `kill -9` of the grader, keeping its workers alive. Arming the
parent-death signal here makes its exit certain; each worker arms its own (grader.grade.die_with_parent).
"""

from grader.grade import die_with_parent

die_with_parent()
