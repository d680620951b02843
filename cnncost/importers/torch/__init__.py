"""The PyTorch front end's parts: the values a traced graph carries (`values`), tracing with torch.fx
(`tracing`), the graph walk both tracers share (`walker`), the op handlers by family, and the tables
that key them by torch function, tensor method, module class (`tables`) and ATen op (`aten`).
`cnncost.importers.torch_trace` drives them."""
