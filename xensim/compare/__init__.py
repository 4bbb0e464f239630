"""``xensim compare``: one workload under every virtualisation mode, and where the time went.

:mod:`.modes` names the modes (what a guest config becomes under each),
:mod:`.measure` runs one mode and reduces it to the numbers a teacher
projects, :mod:`.table` prints them and :mod:`.chart` draws the stacked
time breakdown (matplotlib, optional).
"""
