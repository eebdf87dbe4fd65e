"""Remote engines: generating on a server the team shares (vLLM, SGLang or llama-server).

`engine.RemoteEngine` is the `Engine` over HTTP; each server API it speaks is a `Dialect`
(`openai` for `/v1/completions`, `llama_server` for llama-server's native `/completion`),
registered in `engine.backends`.
"""
