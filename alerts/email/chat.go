package email

import (
	"errors"
	"fmt"
	"strings"
	texttemplate "text/template"
	"unicode/utf8"
)

// Chat is a notification as the channels beside email carry it: the group
// robots of WeCom and DingTalk (Markdown), the generic webhook (Markdown
// and plain text) and SMS. The same view as the email's feeds it, so the
// words, names and links are the email's; the files are chat.md, chat.txt
// and sms.txt in each language directory, overridable like the others.
type Chat struct {
	Subject  string // the email's subject line
	Markdown string // at most MaxChatBytes
	Text     string // at most MaxChatBytes
	SMS      string // one short message; empty for a summary of old warnings, which is never sent by SMS
}

// Limits of the chat texts: WeCom takes at most 4096 bytes of Markdown, a
// long SMS about 500 characters.
const (
	MaxChatBytes = 4000
	MaxSMSRunes  = 480
	// maxChatItems is how many warnings a chat message lists; the rest
	// are counted (chatView.Hidden).
	maxChatItems = 5
)

// Template files of the chat texts.
const (
	fileChatMarkdown = "chat.md"
	fileChatText     = "chat.txt"
	fileSMS          = "sms.txt"
)

// chatView is what chat.md, chat.txt and sms.txt see: the email's view,
// with the subject line and the warnings it does not list.
type chatView struct {
	*view
	Subject string
	Hidden  int // warnings of the notification not listed (Items holds the first ones)
}

// chatFuncs are the chat templates' functions: md makes text safe in
// Markdown (a firm name cannot make a link or a heading), code shows an
// identifier as inline code.
func chatFuncs() texttemplate.FuncMap {
	return texttemplate.FuncMap{"md": markdownText, "code": markdownCode}
}

// markdownCode shows an identifier (a rule id) as inline code.
func markdownCode(s string) string { return "`" + strings.ReplaceAll(s, "`", "'") + "`" }

// markdownText replaces the characters that Markdown (and the subsets the
// group robots speak) would act on with their full-width forms, which read
// the same in Chinese text: a firm called "[点此](http://x)" stays text.
func markdownText(s string) string {
	return markdownReplacer.Replace(s)
}

var markdownReplacer = strings.NewReplacer(
	"\\", "＼", "`", "｀", "*", "＊", "_", "＿", "[", "［", "]", "］", "(", "（", ")", "）",
	"#", "＃", "<", "＜", ">", "＞", "!", "！", "|", "｜", "~", "～",
)

// Chat renders n for the chat channels. A long notification lists fewer
// warnings (counting the rest) until the Markdown and the text fit.
func (r *Renderer) Chat(n Notification) (Chat, error) {
	v, err := r.buildView(n, false)
	if err != nil {
		return Chat{}, err
	}
	lt := r.langs[v.Lang]
	subject, err := lt.executeSubject(v)
	if err != nil {
		return Chat{}, err
	}
	out := Chat{Subject: subject}
	all := v.Items
	shown := len(all)
	if v.Kind != KindSummary {
		shown = min(shown, maxChatItems)
	}
	for {
		cv := &chatView{view: v, Subject: subject, Hidden: len(all) - shown}
		cv.view = withItems(v, all[:shown])
		if out.Markdown, err = lt.executeChat(lt.chatMD, fileChatMarkdown, cv, MaxChatBytes); err != nil && !errors.Is(err, errTooLong) {
			return Chat{}, err
		}
		tooLong := err != nil
		if out.Text, err = lt.executeChat(lt.chatText, fileChatText, cv, MaxChatBytes); err != nil && !errors.Is(err, errTooLong) {
			return Chat{}, err
		}
		tooLong = tooLong || err != nil
		if !tooLong {
			break
		}
		if shown <= 1 {
			return Chat{}, fmt.Errorf("chat message of %s over %d bytes even with one warning: shorten %s or %s", n.MessageID, MaxChatBytes,
				lt.files[fileChatMarkdown], lt.files[fileChatText])
		}
		shown--
	}
	if v.Kind == KindSummary {
		return out, nil
	}
	cv := &chatView{view: v, Subject: subject}
	sms, err := lt.executeChat(lt.sms, fileSMS, cv, 4*MaxSMSRunes)
	if err != nil {
		return Chat{}, err
	}
	out.SMS = cutRunes(strings.Join(strings.Fields(sms), " "), MaxSMSRunes)
	if out.SMS == "" {
		return Chat{}, fmt.Errorf("email template %s: empty text message", lt.files[fileSMS])
	}
	return out, nil
}

// withItems is v listing only items (Top stays the most severe).
func withItems(v *view, items []itemView) *view {
	c := *v
	c.Items = items
	return &c
}

func (lt *langTemplates) executeChat(t *texttemplate.Template, file string, cv *chatView, limit int) (string, error) {
	b := &limitWriter{limit: limit}
	if err := t.Execute(b, cv); err != nil {
		if errors.Is(err, errTooLong) {
			return "", err
		}
		return "", fmt.Errorf("email template %s: %w", lt.files[file], err)
	}
	s := strings.TrimSpace(b.String())
	if s == "" {
		return "", fmt.Errorf("email template %s: empty message", lt.files[file])
	}
	return s, nil
}

// cutRunes cuts s to n runes, ending with "…" when cut.
func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
