// The content bundle: intents, dialogs and resources, loaded and validated together.
// Immutable once built; shared between threads through shared_ptr<const content>.
#pragma once

#include "bot/diagnostics.hpp"
#include "bot/dialog.hpp"
#include "bot/intents.hpp"
#include "bot/resources.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tandem::bot {

struct content_paths {
    std::string intents_dir;
    std::string dialogs_dir;
    std::string resources_file;
    // Optional: the locale list (config/locales.json). Each non-default locale is a pack:
    // intents_dir/<code>/*.json and dialogs_dir/<code>/*.json, overriding the default
    // locale's intents and dialogs by id and falling back to them for the rest.
    std::string locales_file = {};
};

struct locale_info {
    std::string code;
    std::string name;                 // in its own language ("Español")
    std::vector<std::string> aliases; // normalised words that ask for it ("spanish", "espanol")
    // Normalised words that start a new clause ("but", "pero"): excludes are scoped to the
    // clauses they match in (docs/content-format.md §3b).
    std::vector<std::string> clause_words;
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
    // This bundle's language, and the packs of the others (the default bundle holds them).
    const std::string& locale() const { return locale_; }
    const std::map<std::string, locale_info>& locales() const { return locales_; }
    // The bundle for a language code ("es", "es-MX" -> "es"); this one when there is none.
    const content& for_locale(const std::string& code) const;
    // A locale code from a channel hint ("es-ES") or words the user typed ("spanish").
    std::optional<std::string> locale_for(const std::string& hint_or_words) const;

    // A short hash of all loaded files, for logs and /why.
    const std::string& fingerprint() const { return fingerprint_; }
    // Warnings that do not stop serving (unverified helplines).
    const std::vector<std::string>& warnings() const { return warnings_; }

  private:
    struct sources {
        std::vector<intent_def> intents;
        std::map<std::string, dialog_def> dialogs;
        std::vector<std::string> clause_words; // the locale's (locale_info)
    };
    static std::shared_ptr<content> build(sources src, const resource_set& res, std::string locale,
                                          std::string fingerprint, diagnostics& diags);
    void validate(diagnostics& diags);
    std::unique_ptr<intent_matcher> matcher_;
    resource_set resources_;
    std::map<std::string, dialog_def> dialogs_;
    std::map<std::string, std::string> trigger_to_dialog_;
    std::string fingerprint_;
    std::vector<std::string> warnings_;
    std::string locale_ = "en";
    std::map<std::string, locale_info> locales_;
    std::map<std::string, std::shared_ptr<const content>> packs_;
};

// Template placeholders found in a text: "{name}" -> "name". Reports unbalanced braces
// through ok=false.
std::vector<std::string> template_fields(const std::string& text, bool& ok);

} // namespace tandem::bot
