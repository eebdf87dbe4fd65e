//! Starts `sc2-lsp --stdio` (from `lsp.sc2-lsp.binary` in Zed settings, else from $PATH) and
//! passes `lsp.sc2-lsp.initialization_options` through as the server's settings.
use zed_extension_api::{self as zed, settings::LspSettings, LanguageServerId, Result};

struct Sc2Extension;

impl zed::Extension for Sc2Extension {
    fn new() -> Self {
        Sc2Extension
    }

    fn language_server_command(
        &mut self,
        language_server_id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<zed::Command> {
        let binary = LspSettings::for_worktree(language_server_id.as_ref(), worktree)
            .ok()
            .and_then(|settings| settings.binary);
        let command = binary
            .as_ref()
            .and_then(|binary| binary.path.clone())
            .or_else(|| worktree.which("sc2-lsp"))
            .ok_or("sc2-lsp not found on PATH; set lsp.sc2-lsp.binary.path")?;
        let args = binary
            .and_then(|binary| binary.arguments)
            .unwrap_or_else(|| vec!["--stdio".to_string()]);
        Ok(zed::Command {
            command,
            args,
            env: Default::default(),
        })
    }

    fn language_server_initialization_options(
        &mut self,
        language_server_id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<zed::serde_json::Value>> {
        Ok(LspSettings::for_worktree(language_server_id.as_ref(), worktree)
            .ok()
            .and_then(|settings| settings.initialization_options))
    }
}

zed::register_extension!(Sc2Extension);
