;;; sc2-lsp-eglot.el --- sc2-lsp through Eglot  -*- lexical-binding: t; -*-

;; Eglot (built into Emacs 29+, or the elpa-eglot package) has no LSP inline completion;
;; suggestions come through textDocument/completion (completion-at-point, Corfu, Company).
;; Eglot runs one server per buffer, so this replaces e.g. pyright for these modes.

(with-eval-after-load 'eglot
  (add-to-list 'eglot-server-programs
               '((python-mode python-ts-mode rust-mode rust-ts-mode go-mode go-ts-mode)
                 . ("sc2-lsp" "--stdio"
                    :initializationOptions
                    (:model (:path "/path/to/starcoder2-3b-Q4_K_M.gguf")
                     :completion (:maxTokensLine 48))))))

;; Settings can also be changed per project (answered for workspace/configuration "sc2"):
;; (setq-default eglot-workspace-configuration '(:sc2 (:completion (:maxTokensLine 32))))

;; Then M-x eglot in a Python buffer, or (add-hook 'python-mode-hook #'eglot-ensure).

(provide 'sc2-lsp-eglot)
;;; sc2-lsp-eglot.el ends here
