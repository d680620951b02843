"""Bring your own model: a PyTorch module (`torch_trace.from_torch`) or an ONNX file
(`onnx_graph.from_onnx`) as a cnncost Net; `sources` finds the module a source string names.
Nothing here imports torch or onnx until an importer runs; `cnncost.resolve` takes a model
anywhere a spec goes."""
