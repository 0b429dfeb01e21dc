"""The desk's words, in the coordinator's language (`sender.language`: Danish or English)."""

from __future__ import annotations

from collections.abc import Mapping

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
        "not_invited": (
            "{n} på listen er ikke inviteret endnu til {title}|{n} på listen er ikke inviteret endnu "
            "til {title}"
        ),
        "never_invited": "{title} er ikke sendt ud endnu",
        "update_due": "{title} er ændret, siden medlemmerne blev inviteret: send opdateringen",
        "removed": (
            "{n} blev inviteret til {title}, men er ikke længere på listen|{n} blev inviteret til "
            "{title}, men er ikke længere på listen"
        ),
        "to_read": (
            "{n} svar i almindelig tekst skal læses (under Indbakke: skriv svaret ind, eller marker det "
            "klaret)|{n} svar i almindelig tekst skal læses (under Indbakke: skriv svaret ind, eller "
            "marker det klaret)"
        ),
        "bouncing_n": (
            "{n} adresse virker ikke (den kommer ikke med i udsendelser)|"
            "{n} adresser virker ikke (de kommer ikke med i udsendelser)"
        ),
        "invalid_n": "{n} række i medlemslisten er ugyldig|{n} rækker i medlemslisten er ugyldige",
        "cancelled_elsewhere": "{title} er aflyst over for medlemmerne, men config.toml siger noget andet",
        "cancel_due": "{title} er aflyst, men {members} har stadig mødet i kalenderen: send aflysningen",
        "send_cancel": "Send aflysningen",
        "cut_off": "{campaign} er kun sendt til {sent} af {total}: send resten",
        "send_rest": "Send resten",
        "plan_failed": "{title}: {problem}",
        "search": "Søg",
        "search_hint": "navn, adresse, bibliotek eller gruppe",
        "distinct": "{n} medlem|{n} medlemmer",
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
        "put_back": "Adressen virker igen",
        "put_back_done": "{email} får beskeder igen fra næste udsendelse.",
        "not_bouncing": "{email} er ikke markeret som en adresse, der ikke virker: intet er ændret.",
        "duplicates": "Dubletter lagt sammen",
        "invalid": "Ugyldige rækker (kommer ikke med, før de er rettet)",
        "file": "Fil",
        "problem": "Noget er galt",
        "next_config": "Ret det i config.toml (eller under Møder), og prøv igen.",
        "next_members": "Ret det i medlemslisten (eller indlæs en ny under Medlemmer), og prøv igen.",
        "next_template": "Ret skabelonen i mappen templates, og prøv igen.",
        "next_reply": "Se selv på beskeden, og skriv svaret ind i hånden, hvis det er et svar.",
        "next_delivery": (
            "Prøv igen om lidt. Bliver det ved, så ret indstillingerne under [smtp] i config.toml, "
            "eller spørg IT."
        ),
        "next_form": "Ret det i formularen, og prøv igen.",
        "in_english": "Med programmets egne ord:",
        "busy": "En anden udsendelse er i gang",
        "busy_text": "Der bliver sendt fra denne journal lige nu (fra terminalen eller fra et andet vindue).",
        "busy_next": "Vent, til den er færdig, og se så på oversigten igen, før du sender.",
        "refused_signin": "Serveren afviste login",
        "refused_signin_text": "{server} sagde nej til brugernavnet {account} og adgangskoden eller nøglen.",
        "refused_password_next": (
            "Skriv adgangskoden igen på siden Send, og tjek brugernavnet (smtp.username i config.toml). "
            "Er de rigtige, så spørg IT, om postkassen må sende mail med login (SMTP AUTH)."
        ),
        "refused_token_next": (
            "Log ind igen med mailer login, og tjek, at smtp.username er den postkasse, du loggede ind "
            "som. Afvises det stadig, så bed IT slå »Authenticated SMTP« til for postkassen."
        ),
        "unreachable": "Serveren kan ikke nås",
        "unreachable_text": "Der kom intet svar fra {server}.",
        "unreachable_next": (
            "Tjek, at computeren er på nettet, og at smtp.host og smtp.port i config.toml er "
            "rigtige; prøv så igen."
        ),
        "insecure": "Forbindelsen til serveren kunne ikke sikres",
        "insecure_next": (
            "Tjek smtp.security og smtp.port i config.toml (587 med starttls, 465 med tls), eller spørg IT."
        ),
        "server_said": "Serverens svar: {reply}",
        "no_password": "Der mangler en adgangskode",
        "no_password_text": "Der er ingen adgangskode til {account} på {server}.",
        "no_password_next": (
            "Skriv den i feltet på siden Send (eller gem den på computeren med mailer password)."
        ),
        "over": "Mødet er slut",
        "over_text": "{title} sluttede {ended}; ingen kan inviteres til det eller mindes om det.",
        "over_next": "Giv mødet en ny dato under Møder, eller send noget andet.",
        "cancelled_meeting": "Mødet er aflyst",
        "cancelled_meeting_text": "{title} er aflyst: det eneste, der kan sendes om det, er aflysningen.",
        "cancelled_meeting_next": "Vælg »Aflys mødet«, eller sæt status tilbage under Møder.",
        "reinstate_text": "{title} er meldt aflyst i medlemmernes kalendere.",
        "reinstate_next": (
            "Sæt flueben ved »Inviter igen til et møde, der er meldt aflyst« under Flere valg, hvis "
            "alle skal inviteres igen."
        ),
        "nothing_to_test": "Der er ingen besked at sende en prøve af: alle medlemmer har den allerede.",
        "nothing_to_test_next": (
            "Sæt flueben ved »Send igen til dem, der allerede har fået den« under Flere valg, og "
            "send prøven igen."
        ),
        "needs_meeting": "Den skabelon handler om et møde: vælg mødet.",
        "not_on_list": "{address} er ikke på medlemslisten.",
        "no_such_meeting": "Der er intet møde med id {id} i config.toml.",
        "choose_template": "Vælg en skabelon.",
        "choose_meeting_to_cancel": "Vælg det møde, der skal aflyses.",
        "write_test_to": "Skriv den adresse, prøven skal sendes til.",
        "look_first": "Se først, hvad der bliver sendt, og tryk så på knappen.",
        "choose_answer": "Vælg svaret: kommer, kommer ikke eller måske.",
        "not_invited_answer": "{address} er ikke inviteret til {title}.",
        "not_invited_answer_next": (
            "Send invitationen til adressen først (under Send, Flere valg: Kun adressen), "
            "og skriv så svaret ind."
        ),
        "choose_file": "Vælg den fil, der skal indlæses.",
        "not_a_list": (
            "{name} er ikke en medlemsliste: gem den fra Excel eller LibreOffice som .xlsx, .ods eller CSV."
        ),
        "no_members_in": "{name} har intet medlem med en gyldig række: listen er ikke erstattet.",
        "upload_changed": "{current} er ændret, siden {name} blev indlæst: intet er erstattet.",
        "upload_again": "Indlæs filen igen, så den sammenlignes med listen, som den er nu.",
        "not_replaced_next": "Ret rækkerne i filen, og indlæs den igen.",
        "needs_id": "Giv mødet et id, fx 2027-11-16-samskabelse.",
        "id_taken": "Der er allerede et møde med id {id}: vælg et andet.",
        "needs_start": "Mødet skal have et starttidspunkt.",
        "not_a_time": "»{text}« er ikke et tidspunkt: skriv det som {form}.",
        "not_a_date": "»{text}« er ikke en dato: skriv den som {form}.",
        "field_start": "Start",
        "field_end": "Slut",
        "or": "eller",
        "no_such_run": "Den udsendelse kender skrivebordet ikke",
        "no_such_run_next": (
            "Skrivebordet er måske startet igen siden. Se på oversigten, hvad der blev sendt."
        ),
        "no_such_preview": "Det gennemsyn findes ikke længere.",
        "no_such_preview_next": "Lav gennemsynet igen under Gennemsyn.",
        "stopped_after": (
            "{done} af {total} var sendt, da det skete. Ret det, og send det samme igen for at sende resten."
        ),
        "stopped_before": "Intet blev sendt.",
        "no_place": "intet sted endnu",
        "edit": "Ret",
        "who_comes": "Hvem kommer",
        "answers_csv": "Hent listen til Excel (CSV)",
        "answers_file": "svar",
        "comment": "Kommentar",
        "answered": "Svaret",
        "stale_answer": "(svarede, før mødet blev ændret)",
        "by_hand": "skrevet ind i hånden",
        "nobody_invited": "Ingen er inviteret endnu.",
        "new_meeting": "Nyt møde",
        "save": "Gem i config.toml",
        "saved": "Gemt i config.toml (tjekket som mailer check).",
        "id": "Id (tomt: laves af dato og titel; a–z, 0–9 og bindestreg; ændres ikke siden)",
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
        "read_n": "Læst: {n} besked.|Læst: {n} beskeder.",
        "read_before": "{n} af dem var læst før og tælles ikke med igen.",
        "answers_for": "Svar skrevet ind til {title}",
        "answered_at": "svarede {when}",
        "no_answers": "Ingen svar fra kalendere i det, der blev læst.",
        "answer_comment": "kommentar: »{text}«",
        "older": "Ikke skrevet ind: et senere svar fra samme medlem er der allerede",
        "not_understood": "Kunne ikke læses som svar (se selv på dem)",
        "returned_bounces": "Adresser, der ikke virker (udelades fra kommende udsendelser)",
        "returned_delays": "Forsinket (serveren prøver stadig; adressen virker måske)",
        "unsubscribes": "Afmeldinger",
        "auto_replies": "Autosvar (fravær og lignende; tælles ikke med)",
        "read_yourself": "Læs dem selv (skriv svaret ind herunder, hvis det er et svar på et møde)",
        "written_at": "skrevet {when}",
        "done_not_member": "ikke et medlem: intet skrevet ind",
        "done_about": "om {campaign}, sendt {sent_at}",
        "done_not_quoted": "vores besked er ikke med i svaret",
        "done_stranger": "ikke et medlem: se selv på den",
        "done_already": "var allerede afmeldt",
        "done_added": "skrevet på listen over afmeldte ({file})",
        "bounces_next": "Siden Medlemmer viser, hvilke adresser der ikke virker.",
        "nothing_read": "Der var intet nyt at læse.",
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
        "template_invitation": "Invitation (eller opdatering, når mødet er ændret)",
        "template_reminder": "Påmindelse",
        "template_newsletter": "Nyhedsbrev",
        "run_invitation": "Invitation",
        "run_reminder": "Påmindelse",
        "run_newsletter": "Nyhedsbrev",
        "run_cancellation": "Aflysning",
        "meeting": "Møde",
        "no_meeting": "(intet møde)",
        "cancel_meeting": "Aflys mødet (fjernes fra alle inviteredes kalender)",
        "group": "Kun gruppen",
        "only": "Kun adressen",
        "campaign_key": "Navn på udsendelsen (et nyt nyhedsbrev får sit eget)",
        "resend": "Send igen til dem, der allerede har fået den",
        "cancel_removed": "Aflys for dem, der er taget af listen",
        "reinstate": "Inviter igen til et møde, der er meldt aflyst",
        "show_summary": "Vis, hvad der bliver sendt",
        "build_preview": "Lav gennemsyn",
        "preview_made": (
            "Gennemsynet er lavet: {n} besked. Intet er sendt.|Gennemsynet er lavet: {n} beskeder. "
            "Intet er sendt."
        ),
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
        "rate_time": "Det tager omkring {minutes} med serverens grænse ({rate} i minuttet).",
        "minute_n": "minut|minutter",
        "rate_none": "Ingen grænse for, hvor hurtigt der sendes (smtp.rate_per_minute).",
        "day_left": "{by} tillader {per_day} beskeder om dagen: {room} tilbage i dag.",
        "day_used": (
            "{by} tillader {per_day} beskeder om dagen fra én postkasse, og {sent} er sendt det seneste døgn"
        ),
        "day_part": (
            "{said}: nu sendes {sends} af de {total}. Send det samme igen fra {then} for de sidste {waiting}."
        ),
        "day_none": "{said}: intet sendes nu. Send det samme igen fra {then} for at sende de {total}.",
        "skipped": "{n} har den allerede (får den ikke igen)|{n} har den allerede (får dem ikke igen)",
        "suppressed": "{n} afmeldt udeladt|{n} afmeldte udeladt",
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
        "signin_none": "intet login på {server}",
        "signin_password": "med adgangskode som {account} på {server}; {where}",
        "signin_xoauth2": "med login hos din mailudbyder (OAuth2) som {account} på {server}; {where}",
        "from_environment": "den kommer fra {variable}",
        "from_keyring": "den er gemt på denne computer (mailer password)",
        "from_typed": "den, du skrev på siden",
        "from_nowhere": "den er ikke gemt: skriv den herunder",
        "keyring_unusable": "computerens nøglering kan ikke læses ({problem}): skriv adgangskoden herunder",
        "token_environment": "nøglen kommer fra {variable}",
        "token_command": "nøglen hentes med smtp.token_command ({program})",
        "token_login": "du er logget ind som {accounts}; det fornyes før hver udsendelse",
        "token_no_login": "du er ikke logget ind: kør mailer login i terminalen først",
        "token_unusable": "det gemte login kan ikke bruges: kør mailer login i terminalen igen",
        "confirm": "Send nu",
        "password": "Adgangskode til {account}",
        "keep_password": "Husk den, til skrivebordet lukkes (aldrig på disken)",
        "test_to": "Send en prøve til",
        "send_test": "Send prøve",
        "test_sent": "Prøven »{subject}« er sendt til {to}. Intet er skrevet i journalen.",
        "sending": "Sender {campaign}",
        "sending_invitation": "Invitationen til {title} sendes",
        "sending_reminder": "Påmindelsen om {title} sendes",
        "sending_cancellation": "Aflysningen af {title} sendes",
        "sending_newsletter": "Nyhedsbrevet {title} sendes",
        "sent_invitation": "Invitationen til {title} er sendt",
        "sent_reminder": "Påmindelsen om {title} er sendt",
        "sent_cancellation": "Aflysningen af {title} er sendt",
        "sent_newsletter": "Nyhedsbrevet {title} er sendt",
        "sent_other": "{title} er sendt",
        "send_again": "Send det samme igen (kun til dem, der mangler)",
        "next_answers": "Se hvem der kommer",
        "next_overview": "Til overblikket",
        "connection_lost": (
            "Forbindelsen til mailer er væk (er vinduet med mailer desk lukket?). Start mailer desk "
            "igen og se Overblik: intet bliver sendt to gange."
        ),
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
        "seen_added": "med nu, men ikke i oversigten: {emails}",
        "seen_gone": "i oversigten, men ikke med nu: {emails}",
        "seen_changed": "ændret siden (navn, bibliotek, sprog, anden kolonne, slags besked): {emails}",
        "seen_template": "skabelonen er ændret",
        "seen_meetings": "mødet er ændret",
        "seen_attachments": "et bilag er ændret",
        "seen_sender": "afsenderen er ændret",
        "seen_chosen": "valget af medlemmer er ændret",
        "seen_none": "se oversigten først, og send så",
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
        "not_invited": (
            "{n} on the list is not invited yet to {title}|{n} on the list are not invited yet to {title}"
        ),
        "never_invited": "{title} has not been sent out yet",
        "update_due": "{title} changed since members were invited: send the update",
        "removed": (
            "{n} was invited to {title} but is no longer on the list|{n} were invited to {title} but "
            "are no longer on the list"
        ),
        "to_read": (
            "{n} plain reply to read (under Inbox: record the answer, or mark it handled)|{n} plain "
            "replies to read (under Inbox: record the answer, or mark one handled)"
        ),
        "bouncing_n": (
            "{n} address bounces (it is left out of sends)|{n} addresses bounce (they are left out of sends)"
        ),
        "invalid_n": "{n} row of the member list is invalid|{n} rows of the member list are invalid",
        "cancelled_elsewhere": "{title} was cancelled for the members, but config.toml says otherwise",
        "cancel_due": "{title} is cancelled, but {members} still have it in their calendars: "
        "send the cancellation",
        "send_cancel": "Send the cancellation",
        "cut_off": "{campaign} was sent to only {sent} of {total}: send the rest",
        "send_rest": "Send the rest",
        "plan_failed": "{title}: {problem}",
        "search": "Search",
        "search_hint": "name, address, library or group",
        "distinct": "{n} member|{n} members",
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
        "put_back": "The address works again",
        "put_back_done": "{email} gets messages again from the next send on.",
        "not_bouncing": "{email} is not marked as bouncing: nothing changed.",
        "duplicates": "Duplicates merged",
        "invalid": "Invalid rows (left out until corrected)",
        "file": "File",
        "problem": "Something is wrong",
        "next_config": "Correct it in config.toml (or under Meetings) and try again.",
        "next_members": "Correct it in the member list (or upload a new one under Members) and try again.",
        "next_template": "Correct the template in the templates folder and try again.",
        "next_reply": "Look at the message yourself, and record the answer by hand if it is one.",
        "next_delivery": "Try again in a while. If it goes on, correct [smtp] in config.toml, or ask IT.",
        "next_form": "Correct it in the form and try again.",
        "in_english": "In the program's own words:",
        "busy": "Another send is running",
        "busy_text": (
            "Something is being sent from this journal right now (from the terminal or another window)."
        ),
        "busy_next": "Wait until it has finished, then look at the summary again before you send.",
        "refused_signin": "The server refused the sign-in",
        "refused_signin_text": "{server} said no to the user name {account} and its password or token.",
        "refused_password_next": (
            "Type the password again on the Send page and check the user name (smtp.username in "
            "config.toml). If they are right, ask IT whether the mailbox may sign in to send "
            "mail (SMTP AUTH)."
        ),
        "refused_token_next": (
            "Sign in again with mailer login and check that smtp.username is the mailbox you signed in "
            'as. If it is still refused, ask IT to turn on "Authenticated SMTP" for the mailbox.'
        ),
        "unreachable": "The server cannot be reached",
        "unreachable_text": "No answer came from {server}.",
        "unreachable_next": (
            "Check that this computer is online and that smtp.host and smtp.port in config.toml "
            "are right; then try again."
        ),
        "insecure": "The connection to the server could not be secured",
        "insecure_next": (
            "Check smtp.security and smtp.port in config.toml (587 with starttls, 465 with tls), or ask IT."
        ),
        "server_said": "The server said: {reply}",
        "no_password": "A password is missing",
        "no_password_text": "There is no password for {account} at {server}.",
        "no_password_next": (
            "Type it in the field on the Send page (or keep it on this computer with mailer password)."
        ),
        "over": "The meeting is over",
        "over_text": "{title} ended {ended}; nobody can be invited to it or reminded of it.",
        "over_next": "Give the meeting a new date under Meetings, or send something else.",
        "cancelled_meeting": "The meeting is cancelled",
        "cancelled_meeting_text": (
            "{title} is cancelled: the only thing to send about it is its cancellation."
        ),
        "cancelled_meeting_next": 'Choose "Cancel the meeting", or set its status back under Meetings.',
        "reinstate_text": "Members were told that {title} is cancelled.",
        "reinstate_next": (
            'Tick "Invite again to a meeting members were told is cancelled" under More choices if '
            "everyone should be invited again."
        ),
        "nothing_to_test": "There is no message to test: every member already has it.",
        "nothing_to_test_next": (
            'Tick "Send again to those who already have it" under More choices and send the test again.'
        ),
        "needs_meeting": "This template is about a meeting: choose the meeting.",
        "not_on_list": "{address} is not in the member list.",
        "no_such_meeting": "There is no meeting with the id {id} in config.toml.",
        "choose_template": "Choose a template.",
        "choose_meeting_to_cancel": "Choose the meeting to cancel.",
        "write_test_to": "Write the address the test goes to.",
        "look_first": "Look at what will be sent first, then press the button.",
        "choose_answer": "Choose the answer: accepted, declined or tentative.",
        "not_invited_answer": "{address} was not invited to {title}.",
        "not_invited_answer_next": (
            "Send the invitation to the address first (under Send, More choices: Only the address), "
            "then record the answer."
        ),
        "choose_file": "Choose the file to upload.",
        "not_a_list": "{name} is not a member list: save it from Excel or LibreOffice as .xlsx, .ods or CSV.",
        "no_members_in": "{name} has no member with a valid row: the list was not replaced.",
        "upload_changed": "{current} changed since {name} was uploaded: nothing was replaced.",
        "upload_again": "Upload the file again to compare it with the list as it is now.",
        "not_replaced_next": "Correct the rows in the file and upload it again.",
        "needs_id": "Give the meeting an id, e.g. 2027-11-16-samskabelse.",
        "id_taken": "There is a meeting with the id {id} already: choose another.",
        "needs_start": "The meeting needs a start.",
        "not_a_time": '"{text}" is not a time: write it as {form}.',
        "not_a_date": '"{text}" is not a date: write it as {form}.',
        "field_start": "Start",
        "field_end": "End",
        "or": "or",
        "no_such_run": "The desk does not know that run",
        "no_such_run_next": "The desk may have been started again since. The overview shows what was sent.",
        "no_such_preview": "That preview is no longer there.",
        "no_such_preview_next": "Build the preview again under Preview.",
        "stopped_after": (
            "{done} of {total} were sent when it happened. Correct it and send the same again to "
            "send the rest."
        ),
        "stopped_before": "Nothing was sent.",
        "no_place": "no place yet",
        "edit": "Edit",
        "who_comes": "Who is coming",
        "answers_csv": "Download the list for Excel (CSV)",
        "answers_file": "answers",
        "comment": "Comment",
        "answered": "Answered",
        "stale_answer": "(answered before the meeting changed)",
        "by_hand": "entered by hand",
        "nobody_invited": "Nobody is invited yet.",
        "new_meeting": "New meeting",
        "save": "Save in config.toml",
        "saved": "Saved in config.toml (checked as mailer check checks it).",
        "id": "Id (empty: made from the day and title; a–z, 0–9 and dashes; not changed later)",
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
        "read_n": "Read: {n} message.|Read: {n} messages.",
        "read_before": "{n} of them were read before and are not counted again.",
        "answers_for": "Answers recorded for {title}",
        "answered_at": "answered {when}",
        "no_answers": "No calendar answers in what was read.",
        "answer_comment": "comment: \u201c{text}\u201d",
        "older": "Not recorded: a later answer from the same member is already there",
        "not_understood": "Could not be read as answers (look at them yourself)",
        "returned_bounces": "Addresses that bounce (left out of later sends)",
        "returned_delays": "Delayed (the server is still trying; the address may work)",
        "unsubscribes": "Unsubscribe requests",
        "auto_replies": "Automatic replies (out of office and the like; not counted)",
        "read_yourself": "To read yourself (record the answer below if it answers a meeting)",
        "written_at": "written {when}",
        "done_not_member": "not a member: nothing recorded",
        "done_about": "about {campaign}, sent {sent_at}",
        "done_not_quoted": "our message is not quoted",
        "done_stranger": "not a member: look at it yourself",
        "done_already": "already unsubscribed",
        "done_added": "added to the unsubscribe list ({file})",
        "bounces_next": "The Members page shows which addresses bounce.",
        "nothing_read": "There was nothing new to read.",
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
        "template_invitation": "Invitation (or the update, when the meeting changed)",
        "template_reminder": "Reminder",
        "template_newsletter": "Newsletter",
        "run_invitation": "Invitation",
        "run_reminder": "Reminder",
        "run_newsletter": "Newsletter",
        "run_cancellation": "Cancellation",
        "meeting": "Meeting",
        "no_meeting": "(no meeting)",
        "cancel_meeting": "Cancel the meeting (removed from every invited member's calendar)",
        "group": "Only the group",
        "only": "Only the address",
        "campaign_key": "Name of the run (each newsletter issue gets its own)",
        "resend": "Send again to those who already have it",
        "cancel_removed": "Cancel for members taken off the list",
        "reinstate": "Invite again to a meeting members were told is cancelled",
        "show_summary": "Show what will be sent",
        "build_preview": "Build the preview",
        "preview_made": (
            "The preview is built: {n} message. Nothing was sent.|The preview is built: {n} "
            "messages. Nothing was sent."
        ),
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
        "rate_time": "About {minutes} at the server's limit ({rate} a minute).",
        "minute_n": "minute|minutes",
        "rate_none": "No limit on how fast messages go (smtp.rate_per_minute).",
        "day_left": "{by} allows {per_day} messages a day: {room} left today.",
        "day_used": (
            "{by} allows {per_day} messages a day from one mailbox, and {sent} went out in the last 24 hours"
        ),
        "day_part": (
            "{said}: this run sends {sends} of the {total}. Send the same again from {then} for the other "
            "{waiting}."
        ),
        "day_none": "{said}: nothing is sent now. Send the same again from {then} to send the {total}.",
        "skipped": "{n} already has it (not sent again)|{n} already have it (not sent again)",
        "suppressed": "{n} unsubscribed member left out|{n} unsubscribed members left out",
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
        "signin_none": "no sign-in at {server}",
        "signin_password": "with a password as {account} at {server}; {where}",
        "signin_xoauth2": "with a sign-in at your mail provider (OAuth2) as {account} at {server}; {where}",
        "from_environment": "it comes from {variable}",
        "from_keyring": "it is kept on this computer (mailer password)",
        "from_typed": "the one you typed in the page",
        "from_nowhere": "it is not kept: type it below",
        "keyring_unusable": "this computer's keyring cannot be read ({problem}): type the password below",
        "token_environment": "the token comes from {variable}",
        "token_command": "the token comes from smtp.token_command ({program})",
        "token_login": "you are signed in as {accounts}; renewed before each send",
        "token_no_login": "you are not signed in: run mailer login in a terminal first",
        "token_unusable": "the saved sign-in cannot be used: run mailer login in a terminal again",
        "confirm": "Send now",
        "password": "Password for {account}",
        "keep_password": "Keep it until the desk closes (never on disk)",
        "test_to": "Send a test to",
        "send_test": "Send test",
        "test_sent": 'The test "{subject}" was sent to {to}. Nothing was recorded.',
        "sending": "Sending {campaign}",
        "sending_invitation": "Sending the invitation to {title}",
        "sending_reminder": "Sending the reminder of {title}",
        "sending_cancellation": "Sending the cancellation of {title}",
        "sending_newsletter": "Sending the newsletter {title}",
        "sent_invitation": "The invitation to {title} is sent",
        "sent_reminder": "The reminder of {title} is sent",
        "sent_cancellation": "The cancellation of {title} is sent",
        "sent_newsletter": "The newsletter {title} is sent",
        "sent_other": "{title} is sent",
        "send_again": "Send the same again (only to those still missing it)",
        "next_answers": "See who is coming",
        "next_overview": "To the overview",
        "connection_lost": (
            "The connection to mailer is gone (was the window with mailer desk closed?). Start mailer "
            "desk again and look at the Overview: nothing is sent twice."
        ),
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
        "seen_added": "in it now, not in the summary: {emails}",
        "seen_gone": "in the summary, left out now: {emails}",
        "seen_changed": "changed since (name, library, language, another column, kind of message): {emails}",
        "seen_template": "the template changed",
        "seen_meetings": "the meeting changed",
        "seen_attachments": "an attachment changed",
        "seen_sender": "the sender changed",
        "seen_chosen": "the choice of members changed",
        "seen_none": "look at the summary first, then send",
        "no_job": "The desk does not know that run (was it started again?)",
    },
}


def words(language: str) -> dict[str, str]:
    return WORDS.get(language, WORDS["en"])


def number(language: str, n: int) -> str:
    """10.000 in Danish, 10,000 in English."""
    from babel.numbers import format_decimal

    return format_decimal(n, locale=language if language in WORDS else "en")


def counted(language: str, key: str, n: int, **values: object) -> str:
    """'1 besked', '10.000 beskeder': the word under `key` is written 'one|many'. A whole phrase says
    where the number goes ('{n} række er ugyldig|{n} rækker er ugyldige'), and may hold `values`."""
    one, many = words(language)[key].split("|")
    chosen = one if n == 1 else many
    written = number(language, n)
    return chosen.format(n=written, **values) if "{n}" in chosen else f"{written} {chosen}"


def run_word(name: str, language: str) -> str:
    """'Påmindelse' for a run of the template `reminder`; a template of her own keeps its name."""
    return words(language).get(f"run_{name}", name)


def campaign_words(key: str, titles: Mapping[str, str], language: str) -> str:
    """A run as she knows it: 'Påmindelse: Netværksmøde: Samskabelse' for `reminder:<meeting id>`
    (`titles` by meeting id); a run named by hand keeps its name."""
    template, _, meeting_id = key.partition(":")
    word = run_word(template, language)
    return f"{word}: {titles.get(meeting_id, meeting_id)}" if meeting_id else word
