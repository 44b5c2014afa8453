"""Everything about the model, in six packages by concern (docs/ARCHITECTURE.md draws them):
`text` (code to tokens), `lookup` (what the code says: scope, modules, receivers), `workspace`
(what the project says: its files read in the background), `nn` (the network and its files),
`runtime` (answering at a cursor) and `training` (offline only). Each imports only from the
ones below it; none imports `heed.server`."""
