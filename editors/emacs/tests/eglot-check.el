;;; eglot-check.el --- batch check of ../sc2-lsp-eglot.el against the real server  -*- lexical-binding: t; -*-

;; SC2_LSP=/path/to/sc2-lsp SC2_TEST_MODEL=/path/to/test.gguf \
;;   emacs --batch -Q -l editors/emacs/tests/eglot-check.el
;; Loads the snippet with the placeholders replaced, starts Eglot on a Python buffer, waits
;; for the model (sc2.status), asks eglot's completion-at-point for candidates at `y = `.
;; Exit code 0 when a candidate came back, 1 otherwise. Needs Emacs 29+ or elpa-eglot.

(setq package-directory-list (list "/usr/share/emacs/site-lisp/elpa")) ; Debian's elpa-* packages
(package-initialize)
(require 'eglot)
(require 'cl-lib)

(let* ((here (file-name-directory (or load-file-name buffer-file-name)))
       (snippet (with-temp-buffer
                  (insert-file-contents (expand-file-name "../sc2-lsp-eglot.el" here))
                  (buffer-string)))
       (snippet (replace-regexp-in-string "/path/to/starcoder2-3b-Q4_K_M.gguf"
                                          (getenv "SC2_TEST_MODEL") snippet t t))
       (snippet (replace-regexp-in-string "\"sc2-lsp\" \"--stdio\""
                                          (format "%S \"--stdio\"" (getenv "SC2_LSP")) snippet t t)))
  (with-temp-buffer (insert snippet) (eval-buffer)))

(let ((dir (make-temp-file "sc2-eglot" t)))
  (with-temp-file (expand-file-name "main.py" dir) (insert "x = 1\ny = \n"))
  (find-file (expand-file-name "main.py" dir)))
(python-mode)
(apply #'eglot (eglot--guess-contact))
(let ((server (eglot-current-server)) (state nil) (tries 0))
  (while (and (not (member state '("ready" "failed"))) (< tries 300))
    (setq state (plist-get (plist-get (jsonrpc-request server :workspace/executeCommand
                                                       '(:command "sc2.status"))
                                      :model)
                           :state))
    (setq tries (1+ tries))
    (accept-process-output nil 0.1))
  (message "model state: %s" state)
  (goto-char (point-min))
  (forward-line 1)
  (end-of-line)
  (let* ((capf (eglot-completion-at-point))
         (candidates (and capf (all-completions "" (nth 2 capf)))))
    (message "candidates: %S" (mapcar #'substring-no-properties candidates))
    (ignore-errors (eglot-shutdown server))
    (kill-emacs (if (and (equal state "ready") candidates) 0 1))))
;;; eglot-check.el ends here
