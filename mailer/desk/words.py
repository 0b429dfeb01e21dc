"""The desk's words, in the coordinator's language (`sender.language`: Danish or English)."""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "da": {
        "desk": "Skrivebordet",
        "overview": "Overblik",
        "members": "Medlemmer",
        "meetings": "Møder",
        "preview": "Gennemsyn",
        "send": "Send",
        "inbox": "Indbakke",
        "coming": "Kommende møder",
        "no_meetings": "Ingen kommende møder i config.toml.",
        "invited": "inviteret",
        "needs": "Det skal du se på",
        "nothing_needs": "Intet lige nu.",
        "last_runs": "Seneste udsendelser",
        "no_runs": "Intet er sendt endnu.",
        "campaign": "Udsendelse",
        "sent": "sendt",
        "failed": "fejlede",
        "when": "Hvornår",
        "not_invited": "{n} på listen er ikke inviteret endnu til {title}",
        "never_invited": "{title} er ikke sendt ud endnu",
        "update_due": "{title} er ændret, siden medlemmerne blev inviteret: send opdateringen",
        "removed": "{n} blev inviteret til {title}, men er ikke længere på listen",
        "to_read": (
            "{n} svar i almindelig tekst skal læses "
            "(under Indbakke: skriv svaret ind, eller marker det klaret)"
        ),
        "bouncing_n": "{n} adresser virker ikke (de kommer ikke med i udsendelser)",
        "invalid_n": "{n} rækker i medlemslisten er ugyldige",
        "cancelled_elsewhere": "{title} er aflyst over for medlemmerne, men config.toml siger noget andet",
        "cancel_due": "{title} er aflyst, men {members} har stadig mødet i kalenderen: send aflysningen",
        "send_cancel": "Send aflysningen",
        "plan_failed": "{title}: {problem}",
        "search": "Søg",
        "search_hint": "navn, adresse, bibliotek eller gruppe",
        "distinct": "{n} medlemmer",
        "shown": "{n} vist",
        "name": "Navn",
        "email": "E-mail",
        "organization": "Bibliotek",
        "language": "Sprog",
        "groups": "Grupper",
        "lines": "Linje",
        "marks": "Bemærk",
        "merged": "samme adresse på linje {lines}: lagt sammen",
        "bouncing": "adressen virker ikke: {reply}",
        "unsubscribed": "afmeldt: får intet",
        "duplicates": "Dubletter lagt sammen",
        "invalid": "Ugyldige rækker (kommer ikke med, før de er rettet)",
        "file": "Fil",
        "problem": "Noget er galt",
        "problem_next": "Ret det i filen og genindlæs siden.",
        "no_place": "intet sted endnu",
        "edit": "Ret",
        "new_meeting": "Nyt møde",
        "save": "Gem i config.toml",
        "saved": "Gemt i config.toml (tjekket som mailer check).",
        "id": "Id (bogstaver, tal og bindestreg; ændres ikke siden)",
        "title": "Titel",
        "start": "Start",
        "end": "Slut",
        "timezone": "Tidszone",
        "location": "Sted",
        "description": "Beskrivelse",
        "agenda": "Program (et punkt pr. linje)",
        "status": "Status",
        "all_day": "Heldagsmøde (kun datoer)",
        "duration": "Eller varighed (timer:minutter, i stedet for slut)",
        "reminder": "Påmindelse i kalenderen",
        "reminder_none": "ingen",
        "reminder_PT15M": "15 minutter før",
        "reminder_PT30M": "30 minutter før",
        "reminder_PT1H": "1 time før",
        "reminder_PT2H": "2 timer før",
        "reminder_P1D": "1 dag før",
        "reminder_P2D": "2 dage før",
        "reminder_P7D": "1 uge før",
        "attachments": "Vedhæftede filer (alle inviterede får dem)",
        "no_attachments": "Ingen filer i mappen endnu.",
        "attachments_hint": "Læg filen i mappen {folder} for at kunne vælge den her.",
        "not_saved": "Intet er gemt: ret det, der står ved feltet.",
        "send_invitation": "Send invitation eller opdatering",
        "remind": "Send påmindelse",
        "cancel_it": "Aflys",
        "answers": "Svar",
        "read_now": "Læs nu",
        "mail_path": "Mappe eller fil på denne computer (Maildir, mbox, .eml, .msg)",
        "read_imap": "Læs postkassen ([imap] i config.toml)",
        "mail_files": "Eller vælg gemte beskeder (.eml, .msg)",
        "report": "Det blev læst",
        "record_answer": "Skriv et svar ind i hånden",
        "answer": "Svar",
        "note": "Note",
        "record": "Skriv ind",
        "recorded": "{email}: {answer} til {meeting}, skrevet ind i hånden.",
        "replies_to_read": "Svar, du selv skal læse",
        "replies_to_read_hint": (
            "Svar i almindelig tekst, som indbakken ikke kunne læse som et svar. Skriv svaret ind "
            "nedenfor, eller marker det som klaret, hvis det ikke kræver mere."
        ),
        "no_replies_to_read": "Ingen svar venter på dig.",
        "record_for": "Skriv svar ind",
        "mark_handled": "Klaret",
        "handled": "Svaret fra {sender} er klaret og tælles ikke længere med.",
        "handled_before": "Det svar var allerede klaret.",
        "upload": "Erstat listen",
        "upload_hint": (
            "Excel (.xlsx), LibreOffice (.ods) eller CSV. Den tjekkes først; den gamle gemmes med dato."
        ),
        "uploaded": "Listen er erstattet: {members}.",
        "kept_copy": "Den gamle er gemt som {name}.",
        "uploaded_invalid": "{n} ugyldige rækker står stadig i filen og vises nedenfor.",
        "upload_asks": "{name} har ikke erstattet listen endnu",
        "upload_invalid": "{n} rækker i {name} er ugyldige:",
        "field": "Felt",
        "wrong": "Hvad er galt",
        "right_form": "Sådan skal det skrives",
        "form_email": "en adresse som anna.jensen@roskilde.example",
        "form_language": "da eller en (tom: afsenderens sprog)",
        "form_cell": "én linje uden usynlige tegn: skriv cellen igen",
        "upload_invalid_kept": (
            "Erstatter du listen alligevel, bliver rækkerne stående i filen (intet, du har skrevet, går "
            "tabt) og vises her som ugyldige; de kommer ikke med i udsendelser, før de er rettet."
        ),
        "upload_removes": (
            "{n} af de {before} medlemmer på listen nu er ikke med i {name} og forsvinder fra listen. "
            "Er det den rigtige fil?"
        ),
        "replace_anyway": "Erstat listen alligevel ({members})",
        "keep_list": "Annuller: behold listen, som den er",
        "upload_cancelled": "Intet er erstattet: listen er, som den var.",
        "upload_gone": (
            "Den fil venter ikke længere (skrivebordet er startet igen, eller du har valgt): upload den igen."
        ),
        "choose": "Vælg",
        "more_choices": "Flere valg",
        "template": "Skabelon",
        "meeting": "Møde",
        "no_meeting": "(intet møde)",
        "cancel_meeting": "Aflys mødet (fjernes fra alle inviteredes kalender)",
        "group": "Kun gruppen",
        "only": "Kun adressen",
        "campaign_key": "Navn på udsendelsen (et nyt nyhedsbrev får sit eget)",
        "resend": "Send igen til dem, der allerede har fået den",
        "skip_invalid": "Spring ugyldige rækker over",
        "cancel_removed": "Aflys for dem, der er taget af listen",
        "reinstate": "Inviter igen til et møde, der er meldt aflyst",
        "show_summary": "Vis, hvad der bliver sendt",
        "build_preview": "Lav gennemsyn",
        "preview_made": "Gennemsynet er lavet: {n} beskeder. Intet er sendt.",
        "no_preview": "Der er ikke lavet gennemsyn af dette: under Gennemsyn ser du hver besked først.",
        "same_as_preview": "Det samme som i gennemsynet {when}.",
        "changed_since_preview": "Ændret siden gennemsynet {when}:",
        "preview_chosen": "gennemsynet var af {before}; denne udsendelse er til {now}",
        "chosen_all": "alle",
        "chosen_group": "gruppen {group}",
        "chosen_only": "kun {email}",
        "preview_added": "{members} tilføjet siden, ikke med i gennemsynet: {emails}",
        "preview_gone": "{members} fra gennemsynet kommer ikke med nu: {emails}",
        "preview_changed": (
            "{members} ændret (navn, bibliotek, sprog eller en anden kolonne i listen, eller slags "
            "besked): {emails}"
        ),
        "and_more": " og {n} flere",
        "preview_template": "skabelonen er ændret (dens tekster eller template.toml)",
        "preview_meetings": "et møde er ændret (config.toml eller en aflysning)",
        "preview_attachments": "et bilag er ændret",
        "preview_sender": "afsenderen er ændret (config.toml [sender])",
        "open_page": "Åbn siden for sig",
        "send_these": "Send disse",
        "summary": "Det bliver sendt",
        "kind_new": "ny|nye",
        "kind_update": "opdatering|opdateringer",
        "kind_cancel": "aflysning|aflysninger",
        "kind_message": "besked|beskeder",
        "message_n": "besked|beskeder",
        "member_n": "medlem|medlemmer",
        "nothing_to_send": "Intet at sende: alle har fået det.",
        "new_issue": "Et nyt nummer? Giv det sit eget navn under Flere valg, fx {key}",
        "to_send": "{messages} til {members} via {server}{account}",
        "as_account": " som {account}",
        "rate_time": "Det tager omkring {minutes} minutter med serverens grænse ({rate} i minuttet).",
        "rate_none": "Ingen grænse for, hvor hurtigt der sendes (smtp.rate_per_minute).",
        "day_left": "{by} tillader {per_day} beskeder om dagen: {room} tilbage i dag.",
        "day_used": (
            "{by} tillader {per_day} beskeder om dagen fra én postkasse, og {sent} er sendt det seneste døgn"
        ),
        "day_part": (
            "{said}: nu sendes {sends} af de {total}. Send det samme igen i morgen for de sidste {waiting}."
        ),
        "day_none": "{said}: intet sendes nu. Send det samme igen i morgen for at sende de {total}.",
        "skipped": "{n} har den allerede (får den ikke igen)",
        "suppressed": "{n} afmeldte udeladt",
        "bouncing_left_out": "udeladt, fordi adressen ikke virker: {emails}",
        "removed_left": (
            "inviteret, men ikke længere på listen: {emails} (sæt flueben ved »Aflys for "
            "dem, der er taget af listen«)"
        ),
        "skipped_invalid": "ugyldig række sprunget over: {row}",
        "signin": "Log ind: {how}",
        "signin_to_send": (
            "Du er ikke logget ind hos Microsoft 365 (eller login kan ikke længere fornyes): log ind, "
            "så kan du sende bagefter."
        ),
        "signin_to_read": (
            "Du er ikke logget ind hos Microsoft 365 til at læse postkassen: log ind, så kan du læse den "
            "bagefter."
        ),
        "signin_button": "Log ind hos Microsoft 365",
        "signin_title": "Log ind hos Microsoft 365",
        "signin_open": "Åbn denne adresse (i en hvilken som helst browser) og skriv koden:",
        "signin_wait": (
            "Koden virker i {minutes} minutter. Siden her går videre af sig selv, når du er færdig derovre."
        ),
        "signin_failed": "Du blev ikke logget ind:",
        "signin_again": "Prøv igen",
        "no_signin": "Det login kender skrivebordet ikke (er det blevet startet igen?)",
        "confirm": "Send nu",
        "password": "Adgangskode til {account}",
        "keep_password": "Husk den, til skrivebordet lukkes (aldrig på disken)",
        "test_to": "Send en prøve til",
        "send_test": "Send prøve",
        "test_sent": "Prøven »{subject}« er sendt til {to}. Intet er skrevet i journalen.",
        "sending": "Sender {campaign}",
        "progress": "{done} af {total} sendt{failed}",
        "progress_failed": ", {n} fejlede",
        "done": "Færdig",
        "result": "sendt: {sent}, havde den allerede: {skipped}, fejlede: {failed}",
        "refused": (
            "Afvist af serveren (ret adressen i medlemslisten; de udelades, til du skriver "
            "mailer bounced --clear ADRESSE):"
        ),
        "later": "Ikke leveret denne gang (send det samme igen for at sende dem):",
        "stopped": "Stoppet",
        "backup": "Journalen, som den var, er kopieret til {path}",
        "changed_since": (
            "det, der skal sendes, har ændret sig, siden du så oversigten (nu {n} beskeder): "
            "se oversigten igen"
        ),
        "no_job": "Den udsendelse kender skrivebordet ikke (er det blevet startet igen?)",
    },
    "en": {
        "desk": "The desk",
        "overview": "Overview",
        "members": "Members",
        "meetings": "Meetings",
        "preview": "Preview",
        "send": "Send",
        "inbox": "Inbox",
        "coming": "Coming meetings",
        "no_meetings": "No coming meetings in config.toml.",
        "invited": "invited",
        "needs": "What needs you",
        "nothing_needs": "Nothing right now.",
        "last_runs": "Last runs",
        "no_runs": "Nothing has been sent yet.",
        "campaign": "Campaign",
        "sent": "sent",
        "failed": "failed",
        "when": "When",
        "not_invited": "{n} on the list are not invited yet to {title}",
        "never_invited": "{title} has not been sent out yet",
        "update_due": "{title} changed since members were invited: send the update",
        "removed": "{n} were invited to {title} but are no longer on the list",
        "to_read": "{n} plain replies to read (under Inbox: record the answer, or mark one handled)",
        "bouncing_n": "{n} addresses bounce (they are left out of sends)",
        "invalid_n": "{n} rows of the member list are invalid",
        "cancelled_elsewhere": "{title} was cancelled for the members, but config.toml says otherwise",
        "cancel_due": "{title} is cancelled, but {members} still have it in their calendars: "
        "send the cancellation",
        "send_cancel": "Send the cancellation",
        "plan_failed": "{title}: {problem}",
        "search": "Search",
        "search_hint": "name, address, library or group",
        "distinct": "{n} members",
        "shown": "{n} shown",
        "name": "Name",
        "email": "Email",
        "organization": "Library",
        "language": "Language",
        "groups": "Groups",
        "lines": "Line",
        "marks": "Note",
        "merged": "same address on lines {lines}: merged",
        "bouncing": "the address bounces: {reply}",
        "unsubscribed": "unsubscribed: gets nothing",
        "duplicates": "Duplicates merged",
        "invalid": "Invalid rows (left out until corrected)",
        "file": "File",
        "problem": "Something is wrong",
        "problem_next": "Correct it in the file and reload the page.",
        "no_place": "no place yet",
        "edit": "Edit",
        "new_meeting": "New meeting",
        "save": "Save in config.toml",
        "saved": "Saved in config.toml (checked as mailer check checks it).",
        "id": "Id (letters, digits and dashes; not changed later)",
        "title": "Title",
        "start": "Start",
        "end": "End",
        "timezone": "Time zone",
        "location": "Place",
        "description": "Description",
        "agenda": "Programme (one item a line)",
        "status": "Status",
        "all_day": "All-day meeting (dates only)",
        "duration": "Or duration (hours:minutes, in place of the end)",
        "reminder": "Calendar reminder",
        "reminder_none": "none",
        "reminder_PT15M": "15 minutes before",
        "reminder_PT30M": "30 minutes before",
        "reminder_PT1H": "1 hour before",
        "reminder_PT2H": "2 hours before",
        "reminder_P1D": "1 day before",
        "reminder_P2D": "2 days before",
        "reminder_P7D": "1 week before",
        "attachments": "Attachments (every invited member gets them)",
        "no_attachments": "No files in the folder yet.",
        "attachments_hint": "Put the file in the folder {folder} to choose it here.",
        "not_saved": "Nothing was saved: correct what is said at the field.",
        "send_invitation": "Send the invitation or update",
        "remind": "Send a reminder",
        "cancel_it": "Cancel",
        "answers": "Answers",
        "read_now": "Read now",
        "mail_path": "A folder or file on this computer (Maildir, mbox, .eml, .msg)",
        "read_imap": "Read the mailbox ([imap] in config.toml)",
        "mail_files": "Or choose saved messages (.eml, .msg)",
        "report": "What was read",
        "record_answer": "Record an answer by hand",
        "answer": "Answer",
        "note": "Note",
        "record": "Record",
        "recorded": "{email}: {answer} to {meeting}, entered by hand.",
        "replies_to_read": "Replies to read yourself",
        "replies_to_read_hint": (
            "Plain replies the inbox could not read as an answer. Record the answer below, or mark "
            "one as handled when it needs nothing more."
        ),
        "no_replies_to_read": "No reply is waiting for you.",
        "record_for": "Record the answer",
        "mark_handled": "Handled",
        "handled": "The reply from {sender} is handled and no longer counted.",
        "handled_before": "That reply was handled already.",
        "upload": "Replace the list",
        "upload_hint": (
            "Excel (.xlsx), LibreOffice (.ods) or CSV. It is checked first; the old one is "
            "kept with its date."
        ),
        "uploaded": "The list is replaced: {members}.",
        "kept_copy": "The old one is kept as {name}.",
        "uploaded_invalid": "{n} invalid rows are still in the file and shown below.",
        "upload_asks": "{name} has not replaced the list yet",
        "upload_invalid": "{n} rows of {name} are invalid:",
        "field": "Field",
        "wrong": "What is wrong",
        "right_form": "The right form",
        "form_email": "an address such as anna.jensen@roskilde.example",
        "form_language": "da or en (empty: the sender's language)",
        "form_cell": "one line without invisible characters: type the cell again",
        "upload_invalid_kept": (
            "If you replace the list anyway, the rows stay in the file (nothing you typed is lost) and "
            "are shown here as invalid; they are left out of sends until they are corrected."
        ),
        "upload_removes": (
            "{n} of the {before} members on the list now are not in {name} and leave the list. "
            "Is it the right file?"
        ),
        "replace_anyway": "Replace the list anyway ({members})",
        "keep_list": "Cancel: keep the list as it is",
        "upload_cancelled": "Nothing was replaced: the list is as it was.",
        "upload_gone": (
            "That file is no longer waiting (the desk was started again, or you chose): upload it again."
        ),
        "choose": "Choose",
        "more_choices": "More choices",
        "template": "Template",
        "meeting": "Meeting",
        "no_meeting": "(no meeting)",
        "cancel_meeting": "Cancel the meeting (removed from every invited member's calendar)",
        "group": "Only the group",
        "only": "Only the address",
        "campaign_key": "Name of the run (each newsletter issue gets its own)",
        "resend": "Send again to those who already have it",
        "skip_invalid": "Leave invalid rows out",
        "cancel_removed": "Cancel for members taken off the list",
        "reinstate": "Invite again to a meeting members were told is cancelled",
        "show_summary": "Show what will be sent",
        "build_preview": "Build the preview",
        "preview_made": "The preview is built: {n} messages. Nothing was sent.",
        "no_preview": "No preview was made for this: Preview shows each message first.",
        "same_as_preview": "The same as previewed on {when}.",
        "changed_since_preview": "Changed since the preview of {when}:",
        "preview_chosen": "the preview was of {before}; this send is for {now}",
        "chosen_all": "everyone",
        "chosen_group": "the group {group}",
        "chosen_only": "only {email}",
        "preview_added": "{members} added since, not in the preview: {emails}",
        "preview_gone": "{members} in the preview left out now: {emails}",
        "preview_changed": (
            "{members} changed (a name, library, language or other column in the list, or the kind "
            "of message): {emails}"
        ),
        "and_more": " and {n} more",
        "preview_template": "the template changed (its texts or template.toml)",
        "preview_meetings": "a meeting changed (config.toml, or a cancellation)",
        "preview_attachments": "an attachment changed",
        "preview_sender": "the sender changed (config.toml [sender])",
        "open_page": "Open the page on its own",
        "send_these": "Send these",
        "summary": "What will be sent",
        "kind_new": "new|new",
        "kind_update": "update|updates",
        "kind_cancel": "cancellation|cancellations",
        "kind_message": "message|messages",
        "message_n": "message|messages",
        "member_n": "member|members",
        "nothing_to_send": "Nothing to send: everyone has it.",
        "new_issue": "A new issue? Give it a name of its own under More choices, e.g. {key}",
        "to_send": "{messages} to {members} via {server}{account}",
        "as_account": " as {account}",
        "rate_time": "About {minutes} minutes at the server's limit ({rate} a minute).",
        "rate_none": "No limit on how fast messages go (smtp.rate_per_minute).",
        "day_left": "{by} allows {per_day} messages a day: {room} left today.",
        "day_used": (
            "{by} allows {per_day} messages a day from one mailbox, and {sent} went out in the last 24 hours"
        ),
        "day_part": (
            "{said}: this run sends {sends} of the {total}. Send the same again tomorrow for the other "
            "{waiting}."
        ),
        "day_none": "{said}: nothing is sent now. Send the same again tomorrow to send the {total}.",
        "skipped": "{n} already have it (not sent again)",
        "suppressed": "{n} unsubscribed left out",
        "bouncing_left_out": "left out because their address bounced: {emails}",
        "removed_left": (
            'invited but no longer on the list: {emails} (tick "Cancel for members taken off the list")'
        ),
        "skipped_invalid": "invalid row left out: {row}",
        "signin": "Sign-in: {how}",
        "signin_to_send": (
            "You are not signed in to Microsoft 365 (or the sign-in can no longer be renewed): sign in, "
            "then send."
        ),
        "signin_to_read": (
            "You are not signed in to Microsoft 365 to read the mailbox: sign in, then read it."
        ),
        "signin_button": "Sign in to Microsoft 365",
        "signin_title": "Sign in to Microsoft 365",
        "signin_open": "Open this address (in any browser) and enter the code:",
        "signin_wait": (
            "The code works for {minutes} minutes. This page goes on by itself when you are done there."
        ),
        "signin_failed": "The sign-in did not finish:",
        "signin_again": "Try again",
        "no_signin": "The desk does not know that sign-in (was it started again?)",
        "confirm": "Send now",
        "password": "Password for {account}",
        "keep_password": "Keep it until the desk closes (never on disk)",
        "test_to": "Send a test to",
        "send_test": "Send test",
        "test_sent": 'The test "{subject}" was sent to {to}. Nothing was recorded.',
        "sending": "Sending {campaign}",
        "progress": "{done} of {total} sent{failed}",
        "progress_failed": ", {n} failed",
        "done": "Done",
        "result": "sent: {sent}, already had it: {skipped}, failed: {failed}",
        "refused": (
            "Refused by the server (check these addresses in the member list; they are left "
            "out until mailer bounced --clear EMAIL):"
        ),
        "later": "Not delivered this time (send the same again to send them):",
        "stopped": "Stopped",
        "backup": "The journal as it was is copied to {path}",
        "changed_since": (
            "what would be sent changed since you saw the summary (now {n} messages): look at it again"
        ),
        "no_job": "The desk does not know that run (was it started again?)",
    },
}


def words(language: str) -> dict[str, str]:
    return WORDS.get(language, WORDS["en"])


def number(language: str, n: int) -> str:
    """10.000 in Danish, 10,000 in English."""
    from babel.numbers import format_decimal

    return format_decimal(n, locale=language if language in WORDS else "en")


def counted(language: str, key: str, n: int) -> str:
    """'1 besked', '3 beskeder': the word under `key` is written 'one|many'."""
    one, many = words(language)[key].split("|")
    return f"{n} {one if n == 1 else many}"
