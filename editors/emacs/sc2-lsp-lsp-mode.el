;;; sc2-lsp-lsp-mode.el --- sc2-lsp through lsp-mode  -*- lexical-binding: t; -*-

;; lsp-mode has LSP inline completion (lsp-inline-completion.el), so this gives ghost text.
;; :add-on? lets sc2-lsp run next to the mode's main server.

(with-eval-after-load 'lsp-mode
  (lsp-register-client
   (make-lsp-client
    :new-connection (lsp-stdio-connection '("sc2-lsp" "--stdio"))
    :activation-fn (lsp-activate-on "python" "rust" "go" "c" "cpp" "javascript" "typescript")
    :server-id 'sc2-lsp
    :add-on? t
    :initialization-options
    (lambda ()
      '(:model (:path "/path/to/starcoder2-3b-Q4_K_M.gguf")
        :completion (:maxTokensLine 48)))))
  (add-hook 'lsp-mode-hook #'lsp-inline-completion-mode))

(provide 'sc2-lsp-lsp-mode)
;;; sc2-lsp-lsp-mode.el ends here
