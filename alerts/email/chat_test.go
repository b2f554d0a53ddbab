package email

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
)

// TestChatHostileText: a firm name made of Markdown and line breaks cannot
// make a link, emphasis or a heading in a robot's message, nor a line of its
// own in any chat text; the texts keep their size limits.
func TestChatHostileText(t *testing.T) {
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	n := Sample(KindDigest, LangZh, true)
	n.Items[0].Event.Subject = "[点此确认](https://evil.example/ack) **紧急**\n# 伪造标题\r\n> 引用 <font color=\"warning\">x</font>"
	n.Items[0].Event.SummaryZh = "`code` _斜体_ ![图](https://evil.example/p.png)"
	c, err := r.Chat(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"](https://evil", "**紧急**", "\n# 伪造", "\n> 引用", "<font", "`code`", "_斜体_", "![图]"} {
		if strings.Contains(c.Markdown, bad) {
			t.Errorf("the Markdown carries %q:\n%s", bad, c.Markdown)
		}
	}
	for name, s := range map[string]string{"markdown": c.Markdown, "text": c.Text, "sms": c.SMS} {
		for _, line := range strings.Split(s, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "# 伪造") || strings.HasPrefix(strings.TrimSpace(line), "> 引用") {
				t.Errorf("%s: the firm name made a line of its own: %q", name, line)
			}
		}
	}
	if !strings.Contains(c.Markdown, "［点此确认］（https://evil.example/ack）") {
		t.Errorf("the name is not shown escaped:\n%s", c.Markdown)
	}
	if strings.Contains(c.SMS, "\n") || utf8.RuneCountInString(c.SMS) > MaxSMSRunes {
		t.Errorf("sms %q", c.SMS)
	}
}

// TestChatFits: a digest of many warnings lists a few, counts the rest,
// and stays within WeCom's 4096 bytes.
func TestChatFits(t *testing.T) {
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	n := Sample(KindDigest, LangZh, true)
	base := n.Items[0]
	n.Items = nil
	for i := 0; i < 200; i++ {
		it := base
		it.Event.ID = strings.Repeat("a", 19) + string(rune('a'+i%26))
		it.Event.Subject = strings.Repeat("很长的企业名称", 10)
		it.Event.Level = alertevent.LevelIV
		n.Items = append(n.Items, it)
	}
	c, err := r.Chat(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Markdown) > MaxChatBytes || len(c.Text) > MaxChatBytes {
		t.Fatalf("markdown %d bytes, text %d bytes", len(c.Markdown), len(c.Text))
	}
	if !strings.Contains(c.Markdown, "另有") || !strings.Contains(c.Markdown, "未列出") {
		t.Fatalf("the rest are not counted:\n%s", c.Markdown)
	}
}
