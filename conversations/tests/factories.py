import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from conversations.models import Contact, Conversation, Message, MessageTemplate


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct horse battery staple")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    phone = factory.Sequence(lambda n: f"+1415555{3000 + n % 6000:04d}")
    display_name = factory.Faker("name")


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    contact = factory.SubFactory(ContactFactory)
    channel = "whatsapp"
    status = "open"
    last_inbound_at = factory.LazyFunction(timezone.now)
    last_message_at = factory.LazyFunction(timezone.now)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    direction = "inbound"
    kind = "text"
    text = factory.Faker("sentence")
    status = factory.LazyAttribute(lambda m: "received" if m.direction == "inbound" else "queued")


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessageTemplate
        django_get_or_create = ["name", "language"]

    name = factory.Sequence(lambda n: f"template_{n}")
    language = "en_US"
    category = "UTILITY"
    status = "APPROVED"
    body = "Hi {{1}}, your order {{2}} has shipped."
