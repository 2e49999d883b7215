"""Plugin bundles on disk: what a plugin is, where it is found, and how it is shipped.

Owns: the manifest and its validation (:mod:`.manifest`), the capability names a manifest may
request (:mod:`.capabilities`), a plugin's files read once and hashed (:mod:`.bundle`), finding
installed plugins (:mod:`.discovery`), the catalog with install, remove and pack
(:mod:`.catalog`, :mod:`.archive`), checking a folder without running it (:mod:`.check`) and
watching folders for saved changes (:mod:`.watch`).

May import: :mod:`qtui.files`, :mod:`qtui.paths` and the standard library. Nothing here knows
about decisions, running plugins or the console: data flows bundles → trust → runtime → console.
"""
