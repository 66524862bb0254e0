// The content bundle: intents, dialogs and resources, loaded and validated together.
// Immutable once built; shared between threads through shared_ptr<const content>.
#pragma once

#include "bot/diagnostics.hpp"
#include "bot/dialog.hpp"
#include "bot/intents.hpp"
#include "bot/resources.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tandem::bot {

struct content_paths {
    std::string intents_dir;
    std::string dialogs_dir;
    std::string resources_file;
};

// Dialogs the core relies on (docs/content-format.md §3).
const std::vector<std::string>& required_dialogs();
// Nodes of the "system" dialog the core says itself.
const std::vector<std::string>& system_nodes();

class content {
public:
    // Loads every file and validates everything, collecting all problems. Returns the
    // bundle even when there are problems (so tools can still show what loaded); callers
    // that serve users must refuse to run when diags is not empty.
    static std::shared_ptr<content> load(const content_paths& paths, diagnostics& diags);

    const intent_matcher& matcher() const { return *matcher_; }
    const resource_set& resources() const { return resources_; }
    const std::map<std::string, dialog_def>& dialogs() const { return dialogs_; }
    const dialog_def* dialog(const std::string& id) const;
    // The dialog an intent starts: by intent id, then by topic; nullptr when none.
    const dialog_def* dialog_for(const std::string& intent, const std::string& topic) const;
    // The dialog triggered by the pseudo-intent "fallback".
    const dialog_def* fallback_dialog() const;
    // A short hash of all loaded files, for logs and /why.
    const std::string& fingerprint() const { return fingerprint_; }
    // Warnings that do not stop serving (unverified helplines).
    const std::vector<std::string>& warnings() const { return warnings_; }

private:
    void validate(diagnostics& diags);
    std::unique_ptr<intent_matcher> matcher_;
    resource_set resources_;
    std::map<std::string, dialog_def> dialogs_;
    std::map<std::string, std::string> trigger_to_dialog_;
    std::string fingerprint_;
    std::vector<std::string> warnings_;
};

// Template placeholders found in a text: "{name}" -> "name". Reports unbalanced braces
// through ok=false.
std::vector<std::string> template_fields(const std::string& text, bool& ok);

} // namespace tandem::bot
